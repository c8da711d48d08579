// serve --durable forwarding: the posts a durable serve wrote to its spool reach the upstream in
// batches, as from memory (each batch under a new payload ID recorded before it is sent), and a
// post the SDK sends again under the same X-LaunchDarkly-Payload-ID (after a 503 or a lost 202)
// reaches the upstream once.
#include "serve_client.hpp"
#include "spool_support.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <set>

using namespace evrelay::test;

TEST_CASE("serve --durable: spooled posts go upstream in batches, an SDK's retry once",
          "[spool][durable]") {
    const std::string key = "sdk-durable-batches-0001";
    ScratchDir scratch;
    const std::string spool = scratch.path().string() + "/spool";
    RecordingUpstream upstream;
    const auto events = make_events(100);
    std::set<std::string> sdk_ids;
    {
        // Segments close every 2 s: the first posts, the retry among them, share one.
        ServeProcess serve({"--sdk-key", key, "--events-uri", upstream.url(), "--spool", spool,
                            "--durable", "--flush-interval", "2s"});
        ServeGuard guard(serve);
        auto post = [&](std::size_t n) {
            char id[64];
            std::snprintf(id, sizeof id, "5d3c1b2a-0000-4000-8000-%012zu", n);
            sdk_ids.insert(id);
            const std::vector<std::string> part(events.begin() + static_cast<long>(n * 5),
                                                events.begin() + static_cast<long>(n * 5 + 5));
            return http_request(serve.port(), "POST", "/bulk",
                                {{"Authorization", key},
                                 {"X-LaunchDarkly-Event-Schema", "4"},
                                 {"X-LaunchDarkly-Payload-ID", id}},
                                as_array(part))
                .status;
        };
        CHECK(post(0) == 202);
        CHECK(post(0) == 202); // the SDK did not see the first 202 and sent the post again
        for (std::size_t n = 1; n < 20; ++n) {
            CHECK(post(n) == 202);
        }
        REQUIRE(wait_until([&] { return delivered_events(upstream.requests()).size() >= 100; },
                           std::chrono::seconds(20)));
        CHECK(guard.stop() == 0);
    }
    const auto requests = upstream.requests();
    const auto delivered = delivered_events(requests);
    CHECK(delivered == std::multiset<std::string>(events.begin(), events.end()));
    // 20 posts of 5 events (the retry dropped), in one or two segments: a few batches.
    CHECK(requests.size() <= 4);
    bool batched = false;
    for (const auto& request : requests) {
        CHECK(request.status == 202);
        const auto got = events_of(request.body);
        if (got.size() > 5) {
            batched = true;
            CHECK(sdk_ids.count(request.header("x-launchdarkly-payload-id")) == 0);
        }
    }
    CHECK(batched);
    CHECK(files_with_suffix(spool, ".seg").empty());
    CHECK(files_with_suffix(spool, ".done").empty());
}
