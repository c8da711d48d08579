// SPEC §7: an upstream that is down for the whole serve run loses nothing — what serve could not
// deliver (retries exhausted, and what is left at shutdown) is in the spool, and `flush` delivers
// all of it once the upstream is back, with the payload IDs the spool recorded, through a burst
// of 503s.
#include "serve_process.hpp"
#include "spool_support.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <fstream>
#include <set>

using namespace evrelay::test;

namespace {
const std::string k_key = "sdk-spool-test-0001";
}

TEST_CASE("serve spools what a down upstream refused; flush delivers it all once",
          "[spool][flush]") {
    ScratchDir scratch;
    const std::string spool = scratch.path().string() + "/spool";
    const std::string down = refused_url();
    std::vector<std::string> accepted;
    {
        ServeProcess serve({"--sdk-key", k_key, "--events-uri", down, "--spool", spool, "--retries",
                            "0", "--flush-interval", "100ms", "--batch-size", "40"});
        const auto events = make_events(400);
        accepted = post_events(serve.port(), k_key, events, 20);
        REQUIRE(accepted == events);
        // /metrics counts what went to the spool instead of being dropped.
        const bool all_spooled = wait_until(
            [&] {
                return http_request(serve.port(), "GET", "/metrics")
                           .body.find(
                               "evrelay_events_spooled_total{env=\"default\",sdk=\"server\"} "
                               "400") != std::string::npos;
            },
            std::chrono::seconds(20));
        CHECK(all_spooled);
        serve.process().send_signal(SIGTERM);
        const auto status = serve.process().wait(std::chrono::seconds(30));
        INFO(serve.process().stderr_text());
        // Nothing lost: everything went to the spool.
        CHECK(status == 0);
        CHECK(serve.process().stderr_text().find("400 spooled") != std::string::npos);
    }
    const auto spooled = spooled_payloads(spool);
    std::multiset<std::string> spooled_events;
    std::set<std::string> spooled_ids;
    for (const auto& payload : spooled) {
        CHECK(!payload.payload_id.empty());
        CHECK(payload.env == "default");
        spooled_ids.insert(payload.payload_id);
        spooled_events.insert(payload.events.begin(), payload.events.end());
    }
    REQUIRE(spooled_events == std::multiset<std::string>(accepted.begin(), accepted.end()));
    REQUIRE(spooled_ids.size() == spooled.size());
    // Credentials never reach the disk.
    for (const auto& name : files_with_suffix(spool, ".seg")) {
        std::ifstream in(spool + "/" + name);
        const std::string text((std::istreambuf_iterator<char>(in)), {});
        CHECK(text.find(k_key) == std::string::npos);
    }

    RecordingUpstream upstream;
    upstream.script({503, 503, 503}); // the upstream comes back with a burst of 503s
    const auto flushed = run_evrelay({"flush", spool, "--sdk-key", k_key, "--events-uri",
                                      upstream.url(), "--retries", "3", "--retry-delay", "10ms"});
    INFO(flushed.err);
    CHECK(flushed.status == 0);
    const auto requests = upstream.requests();
    CHECK(delivered_twice(requests).empty());
    std::set<std::string> delivered_ids;
    for (const auto& [id, events] : delivered_payloads(requests)) {
        delivered_ids.insert(id);
    }
    CHECK(delivered_ids == spooled_ids);
    CHECK(delivered_events(requests) ==
          std::multiset<std::string>(accepted.begin(), accepted.end()));
    for (const auto& request : requests) {
        CHECK(request.header("authorization") == k_key);
        CHECK(request.target == "/bulk");
    }
    CHECK(files_with_suffix(spool, ".seg").empty());
    CHECK(files_with_suffix(spool, ".done").empty());
    CHECK(flushed.err.find("delivered") != std::string::npos);

    // A second run finds nothing to do.
    const auto again = run_evrelay(
        {"flush", spool, "--sdk-key", k_key, "--events-uri", upstream.url(), "--no-progress"});
    CHECK(again.status == 0);
    CHECK(upstream.request_count() == requests.size());
}

TEST_CASE("flush against an upstream still down keeps everything and exits 75", "[spool][flush]") {
    ScratchDir scratch;
    const std::string spool = scratch.path().string() + "/spool";
    REQUIRE(std::filesystem::create_directories(spool + "/incoming"));
    std::vector<std::string> lines;
    const auto events = make_events(30);
    for (int i = 0; i < 3; ++i) {
        lines.push_back(capture_line(
            "default", "server", 4, "",
            std::vector<std::string>(events.begin() + i * 10, events.begin() + i * 10 + 10),
            "00000000-0000-4000-8000-00000000000" + std::to_string(i)));
    }
    write_segment(spool, "20260101T000000.000000Z-1-000000", lines);
    const auto flushed = run_evrelay(
        {"flush", spool, "--sdk-key", k_key, "--events-uri", refused_url(), "--retries", "0"});
    INFO(flushed.err);
    CHECK(flushed.status == 75);
    CHECK(flushed.err.find("unavailable") != std::string::npos);
    REQUIRE(files_with_suffix(spool, ".seg").size() == 1);
    CHECK(spooled_payloads(spool).size() == 3);
}
