// SPEC §7 cron mode: `serve --no-forward --spool DIR` only writes (it never takes the delivery
// lock), and `flush` from cron delivers every closed segment while serve keeps writing — the
// open segment is left alone. At the end every accepted event was delivered exactly once.
// And a forwarding serve drains its own spool in the background once the upstream accepts again.
#include "serve_process.hpp"
#include "spool_support.hpp"

#include <catch2/catch.hpp>

#include <csignal>

using namespace evrelay::test;

TEST_CASE("serve --no-forward --spool never stops a cron flush", "[spool][flush]") {
    const std::string key = "sdk-cron-test-0001";
    ScratchDir scratch;
    const std::string spool = scratch.path().string() + "/spool";
    RecordingUpstream upstream;
    std::vector<std::string> accepted;
    {
        ServeProcess serve(
            {"--sdk-key", key, "--no-forward", "--spool", spool, "--spool-segment-age", "200ms"});
        LoadClients load(serve.port(), key, 2);
        int flushes = 0;
        // "cron" runs flush several times while serve writes.
        for (int i = 0; i < 4; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            const auto flushed = run_evrelay(
                {"flush", spool, "--sdk-key", key, "--events-uri", upstream.url(), "--no-progress"},
                std::nullopt, std::chrono::seconds(20));
            INFO(flushed.err);
            CHECK(flushed.status == 0);
            flushes += flushed.status == 0 ? 1 : 0;
        }
        CHECK(flushes == 4);
        CHECK(upstream.request_count() > 0); // closed segments went out while serve ran
        load.stop();
        accepted = load.accepted();
        serve.process().send_signal(SIGTERM);
        REQUIRE(serve.process().wait(std::chrono::seconds(30)) == 0);
    }
    const auto last = run_evrelay(
        {"flush", spool, "--sdk-key", key, "--events-uri", upstream.url(), "--no-progress"});
    CHECK(last.status == 0);
    const auto requests = upstream.requests();
    CHECK(delivered_twice(requests).empty());
    CHECK(delivered_events(requests) ==
          std::multiset<std::string>(accepted.begin(), accepted.end()));
    CHECK(files_with_suffix(spool, ".seg").empty());
}

TEST_CASE("a forwarding serve drains its spool once the upstream accepts again", "[spool][serve]") {
    const std::string key = "sdk-drain-test-0001";
    ScratchDir scratch;
    const std::string spool = scratch.path().string() + "/spool";
    RecordingUpstream upstream;
    upstream.set_default_status(503);
    ServeProcess serve({"--sdk-key", key, "--events-uri", upstream.url(), "--spool", spool,
                        "--retries", "0", "--flush-interval", "100ms", "--spool-segment-age",
                        "300ms"});
    const auto accepted = post_events(serve.port(), key, make_events(60), 10);
    REQUIRE(accepted.size() == 60);
    // Refused by the upstream, so spooled.
    REQUIRE(wait_until([&] { return !files_with_suffix(spool, ".seg").empty(); },
                       std::chrono::seconds(20)));
    upstream.set_default_status(202);
    const bool drained = wait_until(
        [&] {
            return delivered_events(upstream.requests()).size() == accepted.size() &&
                   files_with_suffix(spool, ".seg").empty();
        },
        std::chrono::seconds(60));
    INFO(serve.process().stderr_text());
    CHECK(drained);
    CHECK(delivered_events(upstream.requests()) ==
          std::multiset<std::string>(accepted.begin(), accepted.end()));
    serve.process().send_signal(SIGTERM);
    CHECK(serve.process().wait(std::chrono::seconds(30)) == 0);
}
