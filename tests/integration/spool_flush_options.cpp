// `evrelay flush` options and inputs (SPEC §7): incoming/ files in any replay format are
// delivered and removed; --dry-run prints and changes nothing; --max-age drops and reports old
// payloads; --payload-ids new sends lines of one destination together; a missing directory, a
// missing credential and bad flags have their exit statuses.
#include "spool_support.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace evrelay::test;

namespace {
const std::string k_key = "sdk-flush-options-0001";
}

TEST_CASE("flush delivers incoming/ files (NDJSON, capture) and removes them", "[spool][flush]") {
    ScratchDir scratch;
    const std::string spool = scratch.path().string() + "/spool";
    std::filesystem::create_directories(spool + "/incoming");
    const auto events = make_events(25);
    {
        std::ofstream out(spool + "/incoming/batch.ndjson");
        out << as_ndjson(std::vector<std::string>(events.begin(), events.begin() + 20));
    }
    {
        std::ofstream out(spool + "/incoming/capture.ndjson");
        out << capture_line("default", "mobile", 3, "application-id/app",
                            std::vector<std::string>(events.begin() + 20, events.end()),
                            "11111111-2222-4333-8444-555555555555");
    }
    {
        std::ofstream out(spool + "/incoming/.still-being-written");
        out << "[{";
    }
    RecordingUpstream upstream;
    const auto flushed =
        run_evrelay({"flush", spool, "--mobile-key", "mob-flush-options-0001", "--sdk-key", k_key,
                     "--events-uri", upstream.url(), "--no-progress", "--batch-size", "10",
                     "--tags", "application-id/cron"});
    INFO(flushed.err);
    CHECK(flushed.status == 0);
    const auto requests = upstream.requests();
    CHECK(delivered_events(requests) == std::multiset<std::string>(events.begin(), events.end()));
    bool saw_capture = false;
    std::size_t ndjson_payloads = 0;
    for (const auto& request : requests) {
        if (request.header("x-launchdarkly-payload-id") == "11111111-2222-4333-8444-555555555555") {
            saw_capture = true;
            CHECK(request.target == "/mobile");
            CHECK(request.header("x-launchdarkly-event-schema") == "3");
            CHECK(request.header("x-launchdarkly-tags") == "application-id/app");
        } else {
            ++ndjson_payloads;
            CHECK(request.target == "/bulk");
            CHECK(request.header("x-launchdarkly-tags") == "application-id/cron");
            CHECK(events_of(request.body).size() == 10);
        }
    }
    CHECK(saw_capture);
    CHECK(ndjson_payloads == 2);
    CHECK(!std::filesystem::exists(spool + "/incoming/batch.ndjson"));
    CHECK(!std::filesystem::exists(spool + "/incoming/capture.ndjson"));
    CHECK(std::filesystem::exists(spool + "/incoming/.still-being-written"));
    CHECK(files_with_suffix(spool, ".seg").empty());
}

TEST_CASE("flush --dry-run prints the payloads and changes nothing", "[spool][flush]") {
    ScratchDir scratch;
    const std::string spool = scratch.path().string() + "/spool";
    std::filesystem::create_directories(spool);
    const auto events = make_events(4);
    write_segment(spool, "20260101T000000.000000Z-1-000000",
                  {capture_line("default", "server", 4, "", {events[0], events[1]},
                                "aaaaaaaa-0000-4000-8000-000000000001"),
                   capture_line("default", "server", 4, "", {events[2], events[3]},
                                "aaaaaaaa-0000-4000-8000-000000000002")});
    const auto listed = run_evrelay({"flush", spool, "--dry-run", "--no-progress", "--sdk-key",
                                     k_key, "--events-uri", "http://127.0.0.1:9"});
    INFO(listed.err);
    CHECK(listed.status == 0);
    CHECK(listed.out.find("aaaaaaaa-0000-4000-8000-000000000001") != std::string::npos);
    CHECK(listed.out.find("aaaaaaaa-0000-4000-8000-000000000002") != std::string::npos);
    CHECK(listed.err.find("2 payloads (4 events) would be sent") != std::string::npos);
    CHECK(files_with_suffix(spool, ".seg").size() == 1);
    CHECK(files_with_suffix(spool, ".done").empty());
}

TEST_CASE("flush --max-age drops and reports payloads older than the limit", "[spool][flush]") {
    ScratchDir scratch;
    const std::string spool = scratch.path().string() + "/spool";
    std::filesystem::create_directories(spool);
    const auto events = make_events(3);
    write_segment(
        spool, "20200101T000000.000000Z-1-000000",
        {capture_line("default", "server", 4, "", {events[0]},
                      "bbbbbbbb-0000-4000-8000-000000000001", "2020-01-01T00:00:00.000Z"),
         capture_line("default", "server", 4, "", {events[1], events[2]},
                      "bbbbbbbb-0000-4000-8000-000000000002", "2099-01-01T00:00:00.000Z")});
    RecordingUpstream upstream;
    const auto flushed = run_evrelay({"flush", spool, "--sdk-key", k_key, "--events-uri",
                                      upstream.url(), "--no-progress", "--max-age", "720h"});
    INFO(flushed.err);
    CHECK(flushed.status == 0);
    CHECK(flushed.err.find("1 expired (1 events)") != std::string::npos);
    CHECK(flushed.err.find("older than --max-age") != std::string::npos);
    CHECK(delivered_events(upstream.requests()) ==
          std::multiset<std::string>{events[1], events[2]});
    CHECK(files_with_suffix(spool, ".seg").empty());
}

TEST_CASE("flush exit statuses for a missing directory, credentials and flags", "[spool][flush]") {
    ScratchDir scratch;
    const auto missing =
        run_evrelay({"flush", scratch.path().string() + "/nope", "--sdk-key", k_key});
    CHECK(missing.status == 66);
    CHECK(missing.err.find("no such directory") != std::string::npos);

    std::filesystem::create_directories(scratch.path().string() + "/spool");
    const auto no_key = run_evrelay({"flush", scratch.path().string() + "/spool"}, std::nullopt,
                                    std::chrono::seconds(60), {{"LD_ENV_x", ""}});
    CHECK(no_key.status == 78);

    const auto bad_flag = run_evrelay(
        {"flush", scratch.path().string() + "/spool", "--sdk-key", k_key, "--max-age", "soon"});
    CHECK(bad_flag.status == 64);
    CHECK(bad_flag.err.find("--max-age") != std::string::npos);

    const auto no_dir = run_evrelay({"flush"});
    CHECK(no_dir.status == 64);

    const auto bad_ids = run_evrelay(
        {"flush", scratch.path().string() + "/spool", "--sdk-key", k_key, "--payload-ids", "keep"});
    CHECK(bad_ids.status == 64);
    CHECK(bad_ids.err.find("--payload-ids") != std::string::npos);
    const auto bad_bytes = run_evrelay(
        {"flush", scratch.path().string() + "/spool", "--sdk-key", k_key, "--batch-bytes", "0"});
    CHECK(bad_bytes.status == 64);
    CHECK(bad_bytes.err.find("--batch-bytes") != std::string::npos);

    // serve: --durable needs a spool; a spool that cannot be created is a configuration error.
    const auto durable_alone = run_evrelay({"serve", "--durable", "--sdk-key", k_key});
    CHECK(durable_alone.status == 64);
    CHECK(durable_alone.err.find("--spool") != std::string::npos);
    const auto unwritable = run_evrelay({"serve", "--spool", "/proc/evrelay-spool", "--sdk-key",
                                         k_key, "--port", "0", "--bind", "127.0.0.1"});
    CHECK(unwritable.status == 78);
    CHECK(unwritable.err.find("/proc/evrelay-spool") != std::string::npos);
}

TEST_CASE("flush --payload-ids new sends the lines of one destination together", "[spool][flush]") {
    ScratchDir scratch;
    const std::string spool = scratch.path().string() + "/spool";
    std::filesystem::create_directories(spool);
    // 40 lines of 5 events, two tag sets taking turns (as posts from two services arrive).
    const auto events = make_events(200);
    std::vector<std::string> lines;
    for (std::size_t i = 0; i < 40; ++i) {
        char id[64];
        std::snprintf(id, sizeof id, "00000000-0000-4000-8000-%012zu", i);
        lines.push_back(capture_line(
            "default", "server", 4, i % 2 == 0 ? "application-id/a" : "application-id/b",
            std::vector<std::string>(events.begin() + i * 5, events.begin() + i * 5 + 5), id));
    }
    write_segment(spool, "20260101T000000.000000Z-1-000000", lines);
    RecordingUpstream upstream;
    const auto flushed =
        run_evrelay({"flush", spool, "--sdk-key", k_key, "--events-uri", upstream.url(),
                     "--no-progress", "--payload-ids", "new", "--batch-size", "50"});
    INFO(flushed.err);
    CHECK(flushed.status == 0);
    CHECK(flushed.err.find("40 payloads (200 events) delivered") != std::string::npos);
    const auto requests = upstream.requests();
    // 20 lines of 5 events per tag set, 10 lines per payload: 4 requests instead of 40.
    REQUIRE(requests.size() == 4);
    std::multiset<std::string> delivered;
    for (const auto& request : requests) {
        CHECK(request.status == 202);
        CHECK(request.header("x-launchdarkly-payload-id").find("00000000-0000-4000-8000-") ==
              std::string::npos);
        const auto got = events_of(request.body);
        CHECK(got.size() == 50);
        delivered.insert(got.begin(), got.end());
    }
    CHECK(delivered == std::multiset<std::string>(events.begin(), events.end()));
    CHECK(files_with_suffix(spool, ".seg").empty());
    CHECK(files_with_suffix(spool, ".done").empty());
}
