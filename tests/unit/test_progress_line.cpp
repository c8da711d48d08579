#include "core/replay/progress_line.hpp"

#include <catch2/catch.hpp>

using namespace evrelay;

TEST_CASE("format_progress_line", "[progress]") {
    ProgressSnapshot snapshot;
    snapshot.bytes_read = 512u << 20;
    snapshot.bytes_total = 1024u << 20;
    snapshot.events = 1'500'000;
    snapshot.events_sent = 1'200'000;
    snapshot.elapsed = std::chrono::seconds(2);
    const auto line = format_progress_line(snapshot);
    CHECK_THAT(line, Catch::Contains("(50%)"));
    CHECK_THAT(line, Catch::Contains("1.50M events read"));
    CHECK_THAT(line, Catch::Contains("1.20M sent"));
    CHECK_THAT(line, Catch::Contains("750.0k events/s"));
    CHECK_THAT(line, Catch::Contains("ETA 2s"));

    SECTION("no total (stdin): no percentage and no ETA") {
        snapshot.bytes_total = 0;
        const auto unknown = format_progress_line(snapshot);
        CHECK_THAT(unknown, !Catch::Contains("%"));
        CHECK_THAT(unknown, !Catch::Contains("ETA"));
    }
}
