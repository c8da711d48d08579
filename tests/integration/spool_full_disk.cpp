// SPEC §7: when the spool cannot be written (here a file-size limit, which fails writes with
// EFBIG exactly like a full disk, and needs no root), --durable answers 503 and says so in the
// log; every post it did answer 202 is in the spool, whole, and flush delivers exactly those.
// Without --durable, a forwarding serve keeps serving from memory and logs the failure.
#include "serve_process.hpp"
#include "spool_support.hpp"

#include <catch2/catch.hpp>

#include <csignal>

using namespace evrelay::test;

namespace {
const std::string k_key = "sdk-full-disk-test-0001";
}

TEST_CASE("serve --durable answers 503 when the spool is full; the 202s are all kept",
          "[spool][durable]") {
    ScratchDir scratch;
    const std::string spool = scratch.path().string() + "/spool";
    std::vector<std::string> accepted;
    std::size_t refused = 0;
    std::string log;
    {
        ChildProcess::Options options;
        options.args = {EVRELAY_BINARY, "serve",   "--bind",    "127.0.0.1",
                        "--port",       "0",       "--sdk-key", k_key,
                        "--no-forward", "--spool", spool,       "--durable"};
        options.file_size_limit = 48 * 1024; // room for a few dozen posts
        ChildProcess serve(options);
        const std::uint16_t port = listening_port(serve);
        REQUIRE(port != 0);
        const auto events = make_events(400);
        for (std::size_t i = 0; i < events.size(); i += 5) {
            const std::vector<std::string> part(events.begin() + static_cast<long>(i),
                                                events.begin() + static_cast<long>(i + 5));
            const auto response = http_request(
                port, "POST", "/bulk",
                {{"Authorization", k_key}, {"X-LaunchDarkly-Event-Schema", "4"}}, as_array(part));
            if (response.status == 202) {
                accepted.insert(accepted.end(), part.begin(), part.end());
            } else {
                REQUIRE(response.status == 503);
                CHECK(response.header("retry-after") == "1");
                CHECK(response.body.find("spool") != std::string::npos);
                ++refused;
            }
        }
        serve.send_signal(SIGTERM);
        CHECK(serve.wait(std::chrono::seconds(30)) == 0);
        log = serve.stderr_text();
    }
    INFO(log);
    CHECK(refused > 0);
    CHECK(accepted.size() > 0);
    CHECK(log.find("spool: cannot write spool segment") != std::string::npos);
    CHECK(log.find("File too large") != std::string::npos);

    // Only whole lines, and exactly the acknowledged posts.
    std::vector<std::string> spooled;
    for (const auto& payload : spooled_payloads(spool)) {
        spooled.insert(spooled.end(), payload.events.begin(), payload.events.end());
    }
    CHECK(spooled == accepted);

    RecordingUpstream upstream;
    const auto flushed = run_evrelay(
        {"flush", spool, "--sdk-key", k_key, "--events-uri", upstream.url(), "--no-progress"});
    INFO(flushed.err);
    CHECK(flushed.status == 0);
    CHECK(delivered_events(upstream.requests()) ==
          std::multiset<std::string>(accepted.begin(), accepted.end()));
}

TEST_CASE("serve --spool without --durable keeps serving from memory when the spool fails",
          "[spool][serve]") {
    ScratchDir scratch;
    const std::string spool = scratch.path().string() + "/spool";
    RecordingUpstream upstream;
    upstream.set_default_status(503);
    ChildProcess::Options options;
    options.args = {EVRELAY_BINARY, "serve", "--bind",           "127.0.0.1",    "--port",  "0",
                    "--sdk-key",    k_key,   "--events-uri",     upstream.url(), "--spool", spool,
                    "--retries",    "0",     "--flush-interval", "50ms"};
    options.file_size_limit = 0; // nothing can be written to any file
    ChildProcess serve(options);
    const std::uint16_t port = listening_port(serve);
    REQUIRE(port != 0);
    const auto accepted = post_events(port, k_key, make_events(50), 10);
    CHECK(accepted.size() == 50); // answered from memory
    REQUIRE(upstream.wait_for_requests(1, std::chrono::seconds(10)));
    upstream.set_default_status(202);
    // What failed to spool was dropped and counted; what came later is delivered.
    const auto later = post_events(port, k_key, make_events(10, 1000), 10);
    CHECK(later.size() == 10);
    serve.send_signal(SIGTERM);
    CHECK(serve.wait(std::chrono::seconds(30)).has_value());
    const std::string log = serve.stderr_text();
    INFO(log);
    CHECK(log.find("spool: cannot") != std::string::npos);
    const auto delivered = delivered_events(upstream.requests());
    for (const auto& event : later) {
        CHECK(delivered.count(event) == 1);
    }
}
