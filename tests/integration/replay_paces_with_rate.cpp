// --rate N paces sending (checked loosely: a lower bound on the elapsed time only).
#include "harness.hpp"

#include <catch2/catch.hpp>

using namespace evrelay::test;

TEST_CASE("replay --rate paces events", "[replay]") {
    RecordingUpstream upstream;
    ScratchDir dir;
    const auto events = make_events(300);
    const auto input = dir.write("events.ndjson", as_ndjson(events));
    const auto started = std::chrono::steady_clock::now();
    const auto result = run_evrelay({"replay", "--sdk-key", "sdk-integration-0001", "--events-uri",
                                     upstream.url(), "--rate", "200", input.string()});
    const auto elapsed = std::chrono::steady_clock::now() - started;
    INFO(result.err);
    CHECK(result.status == 0);
    // 300 events at 200/s: the last group may leave no earlier than ~1.4 s after the first.
    CHECK(elapsed >= std::chrono::milliseconds(1300));
    CHECK(all_events(upstream.requests()).size() == 300);
}
