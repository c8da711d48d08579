// A recoverable failure is retried once, after the delay, with the same payload ID and body.
#include "harness.hpp"

#include <catch2/catch.hpp>

using namespace evrelay::test;

TEST_CASE("replay retries 503 once with the same payload ID", "[replay]") {
    RecordingUpstream upstream;
    upstream.script({503, 202});
    ScratchDir dir;
    const auto events = make_events(20);
    const auto input = dir.write("events.ndjson", as_ndjson(events));

    const auto result = run_evrelay({"replay", "--sdk-key", "sdk-integration-0001", "--events-uri",
                                     upstream.url(), "--retry-delay", "200ms", input.string()});
    INFO(result.err);
    CHECK(result.status == 0);
    const auto requests = upstream.requests();
    REQUIRE(requests.size() == 2);
    CHECK(requests[0].status == 503);
    CHECK(requests[1].status == 202);
    CHECK(requests[0].header("x-launchdarkly-payload-id") ==
          requests[1].header("x-launchdarkly-payload-id"));
    CHECK(requests[0].raw_body == requests[1].raw_body);
    CHECK(requests[1].received - requests[0].received >= std::chrono::milliseconds(190));
    CHECK(events_of(requests[1].body) == events);
    CHECK_THAT(result.err, Catch::Contains("20 sent, 0 dropped") && Catch::Contains("1 retries"));
}

TEST_CASE("replay drops after the last retry and exits 75", "[replay]") {
    RecordingUpstream upstream;
    upstream.set_default_status(503);
    ScratchDir dir;
    const auto input = dir.write("events.ndjson", as_ndjson(make_events(7)));

    const auto result =
        run_evrelay({"replay", "--sdk-key", "sdk-integration-0001", "--events-uri", upstream.url(),
                     "--retry-delay", "50ms", "--retries", "2", input.string()});
    INFO(result.err);
    CHECK(result.status == 75);
    CHECK(upstream.request_count() == 3);
    CHECK_THAT(result.err, Catch::Contains("0 sent, 7 dropped"));
}
