// SPEC §7: malformed spool data is moved aside to bad/ (never deleted), the rest is delivered,
// and flush exits 65. A segment whose writer died mid-line (an ".open" file nobody locks) counts
// as closed; its torn last line was never acknowledged and is skipped with a warning.
#include "spool_support.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace evrelay::test;

TEST_CASE("a corrupted segment goes to bad/, the rest is delivered, flush exits 65",
          "[spool][flush]") {
    ScratchDir scratch;
    const std::string spool = scratch.path().string() + "/spool";
    std::filesystem::create_directories(spool);
    const auto events = make_events(9);
    auto line = [&](int i) {
        return capture_line("default", "server", 4, "", {events[static_cast<std::size_t>(i)]},
                            "00000000-0000-4000-8000-00000000000" + std::to_string(i));
    };
    write_segment(spool, "20260101T000000.000000Z-1-000000", {line(0), line(1)});
    write_segment(
        spool, "20260101T000001.000000Z-1-000000",
        {line(2), "{\"v\":1,\"received\":\"2026-11-26T23:19:43.123Z\",\"env\":tru\n", line(3)});
    write_segment(spool, "20260101T000002.000000Z-1-000000", {line(4)});
    // A dead writer's segment: ".open", unlocked, its last line cut off.
    {
        std::ofstream out(spool + "/20260101T000003.000000Z-2-000000.open");
        out << line(5) << line(6).substr(0, 40);
    }

    RecordingUpstream upstream;
    const auto flushed = run_evrelay({"flush", spool, "--sdk-key", "sdk-bad-data-0001",
                                      "--events-uri", upstream.url(), "--no-progress"});
    INFO(flushed.err);
    CHECK(flushed.status == 65);
    CHECK(flushed.err.find("20260101T000001.000000Z-1-000000.seg:2") != std::string::npos);
    CHECK(flushed.err.find("torn last line") != std::string::npos);
    const auto delivered = delivered_events(upstream.requests());
    CHECK(delivered == std::multiset<std::string>{events[0], events[1], events[2], events[3],
                                                  events[4], events[5]});
    // The corrupted file is kept whole in bad/; every delivered segment is gone.
    CHECK(std::filesystem::exists(spool + "/bad/20260101T000001.000000Z-1-000000.seg"));
    CHECK(files_with_suffix(spool, ".seg").empty());
    CHECK(files_with_suffix(spool, ".open").empty());

    // The bad data is reported once: the next run has nothing to do.
    const auto again = run_evrelay({"flush", spool, "--sdk-key", "sdk-bad-data-0001",
                                    "--events-uri", upstream.url(), "--no-progress"});
    CHECK(again.status == 0);
    CHECK(std::filesystem::exists(spool + "/bad/20260101T000001.000000Z-1-000000.seg"));
}
