// --dry-run prints the payloads with their headers (credentials masked) and sends nothing.
#include "harness.hpp"

#include <catch2/catch.hpp>

using namespace evrelay::test;

TEST_CASE("replay --dry-run prints and sends nothing", "[replay]") {
    RecordingUpstream upstream;
    ScratchDir dir;
    const auto events = make_events(30);
    const auto input = dir.write("events.ndjson", as_ndjson(events));
    const auto result =
        run_evrelay({"replay", "--dry-run", "--sdk-key", "sdk-dry-run-key-4242", "--events-uri",
                     upstream.url(), "--batch-size", "10", input.string()});
    INFO(result.err);
    CHECK(result.status == 0);
    CHECK(upstream.request_count() == 0);
    CHECK_THAT(result.out, Catch::Contains("POST " + upstream.url() + "/bulk"));
    CHECK_THAT(result.out, Catch::Contains("Authorization: sdk-****4242"));
    CHECK_THAT(result.out, !Catch::Contains("sdk-dry-run-key-4242"));
    CHECK_THAT(result.out, Catch::Contains("X-LaunchDarkly-Payload-ID: "));
    CHECK_THAT(result.out, Catch::Contains(events[29]));
    std::size_t posts = 0;
    for (std::size_t at = result.out.find("POST "); at != std::string::npos;
         at = result.out.find("POST ", at + 1)) {
        ++posts;
    }
    CHECK(posts == 3);
}

TEST_CASE("replay without credentials is a configuration error unless --dry-run", "[replay]") {
    ScratchDir dir;
    const auto input = dir.write("events.ndjson", as_ndjson(make_events(1)));
    const auto result = run_evrelay({"replay", input.string()});
    CHECK(result.status == 78);
    CHECK_THAT(result.err, Catch::Contains("no credentials"));
}
