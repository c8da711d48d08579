// serve --durable --payload-ids: with preserve, every spooled post reaches the upstream as its
// own request under the SDK's own X-LaunchDarkly-Payload-ID (so the events service
// de-duplicates an SDK retry another instance took); with new (the default, also spelled batch)
// the posts of a segment are merged into batches under new IDs.
#include "serve_client.hpp"
#include "spool_support.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <set>

using namespace evrelay::test;

namespace {

std::string sdk_payload_id(std::size_t n) {
    char id[64];
    std::snprintf(id, sizeof id, "7e3c1b2a-0000-4000-8000-%012zu", n);
    return id;
}

} // namespace

TEST_CASE("serve --durable --payload-ids: preserve sends each post under the SDK's ID, new "
          "merges them",
          "[spool][durable]") {
    const std::string mode =
        GENERATE(std::string("preserve"), std::string("new"), std::string("batch"), std::string());
    CAPTURE(mode);
    const std::string key = "sdk-durable-payload-ids-01";
    ScratchDir scratch;
    const std::string spool = scratch.path().string() + "/spool";
    RecordingUpstream upstream;
    const auto events = make_events(60);
    constexpr std::size_t k_posts = 12; // of 5 events
    std::set<std::string> sdk_ids;
    {
        std::vector<std::string> args{"--sdk-key", key,   "--events-uri", upstream.url(),
                                      "--spool",   spool, "--durable",    "--flush-interval",
                                      "2s"};
        if (!mode.empty()) {
            args.insert(args.end(), {"--payload-ids", mode});
        }
        ServeProcess serve(args);
        ServeGuard guard(serve);
        auto post = [&](std::size_t n) {
            const std::vector<std::string> part(events.begin() + static_cast<long>(n * 5),
                                                events.begin() + static_cast<long>(n * 5 + 5));
            return http_request(serve.port(), "POST", "/bulk",
                                {{"Authorization", key},
                                 {"X-LaunchDarkly-Event-Schema", "4"},
                                 {"X-LaunchDarkly-Payload-ID", sdk_payload_id(n)}},
                                as_array(part))
                .status;
        };
        for (std::size_t n = 0; n < k_posts; ++n) {
            sdk_ids.insert(sdk_payload_id(n));
            CHECK(post(n) == 202);
        }
        CHECK(post(3) == 202); // an SDK's retry of a stored post: answered, not stored again
        REQUIRE(wait_until(
            [&] { return delivered_events(upstream.requests()).size() >= events.size(); },
            std::chrono::seconds(20)));
        CHECK(guard.stop() == 0);
    }
    const auto requests = upstream.requests();
    CHECK(delivered_events(requests) == std::multiset<std::string>(events.begin(), events.end()));
    CHECK(delivered_twice(requests).empty());
    std::set<std::string> request_ids;
    for (const auto& request : requests) {
        CHECK(request.status == 202);
        request_ids.insert(request.header("x-launchdarkly-payload-id"));
    }
    if (mode == "preserve") {
        // One request per post, each under the ID its SDK gave it, its 5 events as posted.
        CHECK(requests.size() == k_posts);
        CHECK(request_ids == sdk_ids);
        for (const auto& request : requests) {
            CHECK(events_of(request.body).size() == 5);
        }
    } else {
        // Merged: a few batches (the posts fall into one or two segments), under new IDs.
        CHECK(requests.size() <= 3);
        for (const auto& id : request_ids) {
            CHECK(sdk_ids.count(id) == 0);
        }
    }
    CHECK(files_with_suffix(spool, ".seg").empty());
}

TEST_CASE("serve --payload-ids needs --durable and a known value", "[spool][durable]") {
    ScratchDir scratch;
    const std::string spool = scratch.path().string() + "/spool";
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"serve", "--sdk-key", "sdk-x", "--spool", spool, "--payload-ids", "preserve"},
             {"serve", "--sdk-key", "sdk-x", "--spool", spool, "--durable", "--payload-ids",
              "keep"},
             {"serve", "--sdk-key", "sdk-x", "--spool", spool, "--durable-timeout", "1s"}}) {
        auto process = start_evrelay(args);
        const auto status = process->wait(std::chrono::seconds(10));
        INFO(process->stderr_text());
        CHECK(status == 64);
    }
}
