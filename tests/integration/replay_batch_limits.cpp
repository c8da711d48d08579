// --batch-size and --batch-bytes bound every payload.
#include "harness.hpp"

#include <catch2/catch.hpp>

using namespace evrelay::test;

TEST_CASE("replay honours --batch-size", "[replay]") {
    RecordingUpstream upstream;
    ScratchDir dir;
    const auto input = dir.write("events.ndjson", as_ndjson(make_events(1050)));
    const auto result = run_evrelay({"replay", "--sdk-key", "sdk-integration-0001", "--events-uri",
                                     upstream.url(), "--batch-size", "100", input.string()});
    INFO(result.err);
    REQUIRE(result.status == 0);
    const auto requests = upstream.requests();
    CHECK(requests.size() == 11);
    std::size_t total = 0;
    for (const auto& request : requests) {
        const auto count = events_of(request.body).size();
        CHECK(count <= 100);
        total += count;
    }
    CHECK(total == 1050);
}

TEST_CASE("replay honours --batch-bytes", "[replay]") {
    RecordingUpstream upstream;
    ScratchDir dir;
    const auto input = dir.write("events.ndjson", as_ndjson(make_events(300)));
    const auto result = run_evrelay({"replay", "--sdk-key", "sdk-integration-0001", "--events-uri",
                                     upstream.url(), "--batch-bytes", "4KiB", input.string()});
    INFO(result.err);
    REQUIRE(result.status == 0);
    const auto requests = upstream.requests();
    CHECK(requests.size() > 10);
    std::size_t total = 0;
    for (const auto& request : requests) {
        CHECK(request.body.size() <= 4096);
        total += events_of(request.body).size();
    }
    CHECK(total == 300);
}
