// 10,000 events in → exactly those events out, once each, in payloads of at most 1000.
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace evrelay::test;

TEST_CASE("replay delivers every event exactly once", "[replay]") {
    RecordingUpstream upstream;
    ScratchDir dir;
    const auto events = make_events(10'000);
    const auto input = dir.write("events.ndjson", as_ndjson(events));

    const auto result = run_evrelay({"replay", "--sdk-key", "sdk-integration-0001", "--events-uri",
                                     upstream.url(), input.string()});
    INFO(result.err);
    CHECK(result.status == 0);

    const auto requests = upstream.requests();
    CHECK(requests.size() == 10);
    for (const auto& request : requests) {
        CHECK(request.target == "/bulk");
        CHECK(request.status == 202);
        CHECK(events_of(request.body).size() <= 1000);
    }
    auto received = all_events(requests);
    auto expected = events;
    std::sort(received.begin(), received.end());
    std::sort(expected.begin(), expected.end());
    CHECK(received == expected);
    CHECK_THAT(result.err, Catch::Contains("10000 events read, 10000 sent, 0 dropped, 0 malformed, "
                                           "10 payloads, 0 retries"));
}
