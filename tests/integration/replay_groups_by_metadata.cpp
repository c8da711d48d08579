// Events with different metadata (schema, tags), environment or SDK kind never share a payload.
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <set>

using namespace evrelay::test;

TEST_CASE("replay groups capture envelopes by metadata", "[replay]") {
    RecordingUpstream upstream;
    ScratchDir dir;
    const auto config = dir.write("relay.conf", R"([Environment "production"]
sdkKey = "sdk-prod-key-1111"
mobileKey = "mob-prod-key-2222"
envId = "prod-env-id-3333"

[Environment "staging"]
sdkKey = "sdk-staging-key-4444"
)");
    std::string capture;
    // Interleaved, so grouping is the publisher's work and not the input's order.
    capture += capture_line("production", "server", 4, "application-id/web", make_events(3, 0));
    capture += capture_line("production", "server", 3, "", make_events(2, 100));
    capture += capture_line("staging", "server", 4, "application-id/web", make_events(4, 200));
    capture += capture_line("production", "server", 4, "application-id/web", make_events(3, 300));
    capture += capture_line("production", "mobile", 4, "", make_events(1, 400));
    capture += capture_line("production", "js", 4, "application-id/spa", make_events(2, 500));
    capture += capture_line("production", "server", 3, "", make_events(2, 600));
    const auto input = dir.write("capture.ndjson", capture);

    const auto result = run_evrelay({"replay", "--config", config.string(), "--events-uri",
                                     upstream.url(), "--no-gzip", input.string()});
    INFO(result.err);
    REQUIRE(result.status == 0);

    const auto requests = upstream.requests();
    REQUIRE(requests.size() == 5);
    std::set<std::string> seen;
    for (const auto& request : requests) {
        const auto events = events_of(request.body);
        const std::string key = request.target + " " + request.header("authorization") + " " +
                                request.header("x-launchdarkly-event-schema") + " " +
                                request.header("x-launchdarkly-tags") + " " +
                                std::to_string(events.size());
        seen.insert(key);
    }
    CHECK(seen == std::set<std::string>{
                      "/bulk sdk-prod-key-1111 4 application-id/web 6",
                      "/bulk sdk-prod-key-1111 3  4",
                      "/bulk sdk-staging-key-4444 4 application-id/web 4",
                      "/mobile mob-prod-key-2222 4  1",
                      "/events/bulk/prod-env-id-3333  4 application-id/spa 2",
                  });
}
