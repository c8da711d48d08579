// 401: no retry, one clear error naming the environment and the masked key, exit 78.
#include "harness.hpp"

#include <catch2/catch.hpp>

using namespace evrelay::test;

TEST_CASE("replay stops on 401 with a clear error", "[replay]") {
    RecordingUpstream upstream;
    upstream.set_default_status(401);
    ScratchDir dir;
    const auto input = dir.write("events.ndjson", as_ndjson(make_events(10'000)));

    const auto result = run_evrelay({"replay", "--sdk-key", "sdk-secret-value-7777", "--events-uri",
                                     upstream.url(), "--batch-size", "100", input.string()});
    INFO(result.err);
    CHECK(result.status == 78);
    // The first 401 disables the credential: later payloads are not even attempted (those
    // already in flight concurrently, at most --max-connections, still get their answer).
    CHECK(upstream.request_count() >= 1);
    CHECK(upstream.request_count() <= 32);
    CHECK_THAT(result.err, Catch::Contains("sdk-****7777"));
    CHECK_THAT(result.err, !Catch::Contains("sdk-secret-value-7777"));
    CHECK_THAT(result.err, Catch::Contains("401"));
}
