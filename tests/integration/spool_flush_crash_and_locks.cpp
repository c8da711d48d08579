// SPEC §7 delivery lock and progress records: kill -9 during a flush, then a re-run, delivers
// the rest — only payloads that were in flight at the kill may reach the upstream twice (under
// their one payload ID); two concurrent flushes never send a payload twice (the second waits up
// to --lock-timeout, then exits 75 with a clear message).
#include "spool_support.hpp"

#include <catch2/catch.hpp>

#include <set>

using namespace evrelay::test;

namespace {

const std::string k_key = "sdk-flush-lock-test-0001";

// A spool with `payloads` closed-segment lines of 2 events each, spread over 4 segments.
std::set<std::string> make_spool(const std::string& spool, std::size_t payloads) {
    std::filesystem::create_directories(spool);
    std::set<std::string> ids;
    const auto events = make_events(payloads * 2);
    for (std::size_t segment = 0; segment < 4; ++segment) {
        std::vector<std::string> lines;
        for (std::size_t i = segment; i < payloads; i += 4) {
            char id[64];
            std::snprintf(id, sizeof id, "00000000-0000-4000-8000-%012zu", i);
            ids.insert(id);
            lines.push_back(
                capture_line("default", "server", 4, "", {events[i * 2], events[i * 2 + 1]}, id));
        }
        write_segment(spool, "20260101T00000" + std::to_string(segment) + ".000000Z-1-000000",
                      lines);
    }
    return ids;
}

std::set<std::string> delivered_ids(const std::vector<RecordedRequest>& requests) {
    std::set<std::string> ids;
    for (const auto& [id, events] : delivered_payloads(requests)) {
        ids.insert(id);
    }
    return ids;
}

} // namespace

TEST_CASE("kill -9 during flush: the re-run delivers the rest; only in-flight payloads twice",
          "[spool][flush]") {
    ScratchDir scratch;
    const std::string spool = scratch.path().string() + "/spool";
    const auto ids = make_spool(spool, 6000);
    RecordingUpstream upstream;
    {
        ChildProcess flush(
            {.args = {EVRELAY_BINARY, "flush", spool, "--sdk-key", k_key, "--events-uri",
                      upstream.url(), "--no-progress", "--no-gzip", "--max-connections", "4"}});
        REQUIRE(upstream.wait_for_requests(300, std::chrono::seconds(30)));
        flush.kill();
    }
    const std::size_t before = upstream.request_count();
    REQUIRE(before < ids.size()); // killed half-way
    CHECK(!files_with_suffix(spool, ".done").empty());

    const auto rerun = run_evrelay({"flush", spool, "--sdk-key", k_key, "--events-uri",
                                    upstream.url(), "--no-progress", "--max-connections", "4"});
    INFO(rerun.err);
    CHECK(rerun.status == 0);
    const auto requests = upstream.requests();
    CHECK(delivered_ids(requests) == ids);
    // Sent twice: at most what was in flight when the first run died (4 connections, and the
    // 202s that arrived before their progress record was written).
    CHECK(delivered_twice(requests).size() <= 8);
    CHECK(files_with_suffix(spool, ".seg").empty());
}

TEST_CASE("kill -9 during flush --payload-ids new: the re-run sends each batch under its ID",
          "[spool][flush]") {
    ScratchDir scratch;
    const std::string spool = scratch.path().string() + "/spool";
    const auto ids = make_spool(spool, 6000);
    const std::vector<std::string> events = make_events(6000 * 2);
    RecordingUpstream upstream;
    const std::vector<std::string> flush_args = {EVRELAY_BINARY,
                                                 "flush",
                                                 spool,
                                                 "--sdk-key",
                                                 k_key,
                                                 "--events-uri",
                                                 upstream.url(),
                                                 "--no-progress",
                                                 "--max-connections",
                                                 "4",
                                                 "--payload-ids",
                                                 "new",
                                                 "--batch-size",
                                                 "20"};
    {
        ChildProcess flush({.args = flush_args});
        REQUIRE(upstream.wait_for_requests(30, std::chrono::seconds(30)));
        flush.kill();
    }
    const std::size_t before = upstream.request_count();
    REQUIRE(before < 600); // killed half-way (6000 lines of 2 events, 10 lines a payload)

    const auto rerun =
        run_evrelay(std::vector<std::string>(flush_args.begin() + 1, flush_args.end()));
    INFO(rerun.err);
    CHECK(rerun.status == 0);
    const auto requests = upstream.requests();
    // Every event arrived, and none under two payload IDs: what the first run had in flight
    // went out again as the same batch, which the upstream de-duplicates.
    const DeliveryComparison compared = compare_delivered(events, delivered_events(requests));
    CHECK(compared.missing == 0);
    CHECK(compared.doubled == 0);
    CHECK(delivered_twice(requests).size() <= 8);
    for (const auto& id : delivered_ids(requests)) {
        CHECK(ids.count(id) == 0); // batches of 10 lines: new IDs
    }
    CHECK(files_with_suffix(spool, ".seg").empty());
}

TEST_CASE("two concurrent flushes: the second exits 75, or waits with --lock-timeout",
          "[spool][flush]") {
    ScratchDir scratch;
    const std::string spool = scratch.path().string() + "/spool";
    const auto ids = make_spool(spool, 40);
    RecordingUpstream upstream;
    upstream.set_stall(true); // the first flush holds the lock while its requests hang
    ChildProcess first({.args = {EVRELAY_BINARY, "flush", spool, "--sdk-key", k_key, "--events-uri",
                                 upstream.url(), "--no-progress"}});
    REQUIRE(upstream.wait_for_requests(1, std::chrono::seconds(10)));

    const auto second = run_evrelay(
        {"flush", spool, "--sdk-key", k_key, "--events-uri", upstream.url(), "--no-progress"});
    INFO(second.err);
    CHECK(second.status == 75);
    CHECK(second.err.find("holds") != std::string::npos);
    CHECK(second.err.find(".delivery.lock") != std::string::npos);

    // A third one that waits: it runs once the first is done, and finds nothing left.
    ChildProcess third({.args = {EVRELAY_BINARY, "flush", spool, "--sdk-key", k_key, "--events-uri",
                                 upstream.url(), "--no-progress", "--lock-timeout", "30s"}});
    upstream.set_stall(false);
    CHECK(first.wait(std::chrono::seconds(40)) == 0);
    CHECK(third.wait(std::chrono::seconds(40)) == 0);
    const auto requests = upstream.requests();
    CHECK(delivered_ids(requests) == ids);
    CHECK(delivered_twice(requests).empty());
}
