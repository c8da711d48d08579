// SPEC §7 --durable: every post that got its 202 was on disk first. SIGKILL serve in the middle
// of a load; after a restart and a flush, every acknowledged event has reached the upstream, and
// no event reached it under two different payload IDs.
#include "serve_process.hpp"
#include "spool_support.hpp"

#include <catch2/catch.hpp>

#include <csignal>

using namespace evrelay::test;

namespace {
const std::string k_key = "sdk-durable-test-0001";

} // namespace

TEST_CASE("serve --durable: SIGKILL under load loses no acknowledged event", "[spool][durable]") {
    ScratchDir scratch;
    const std::string spool = scratch.path().string() + "/spool";
    RecordingUpstream upstream;
    std::vector<std::string> accepted;
    {
        ServeProcess serve({"--sdk-key", k_key, "--events-uri", upstream.url(), "--spool", spool,
                            "--durable", "--flush-interval", "200ms"});
        LoadClients load(serve.port(), k_key, 4);
        REQUIRE(
            wait_until([&] { return load.accepted_count() >= 1500; }, std::chrono::seconds(30)));
        serve.process().kill(); // SIGKILL while the clients are still posting
        load.stop();
        accepted = load.accepted();
    }
    // Restart (the restarted serve drains what it finds), then a flush for the rest.
    {
        ServeProcess serve({"--sdk-key", k_key, "--events-uri", upstream.url(), "--spool", spool,
                            "--durable", "--flush-interval", "200ms"});
        serve.process().send_signal(SIGTERM);
        const auto status = serve.process().wait(std::chrono::seconds(30));
        INFO(serve.process().stderr_text());
        CHECK(status == 0);
    }
    const auto flushed = run_evrelay(
        {"flush", spool, "--sdk-key", k_key, "--events-uri", upstream.url(), "--no-progress"});
    INFO(flushed.err);
    CHECK(flushed.status == 0);

    const auto requests = upstream.requests();
    const auto delivered = delivered_events(requests);
    const DeliveryComparison comparison = compare_delivered(accepted, delivered);
    CHECK(comparison.missing == 0);
    // The same event under two payload IDs would be a double count upstream.
    CHECK(comparison.doubled == 0);
    CHECK(files_with_suffix(spool, ".seg").empty());
    CHECK(files_with_suffix(spool, ".open").empty());
}
