// Shutdown honesty: SIGTERM with accepted events the upstream never takes (503 until the last
// retry) and no spool exits 75 with a line saying how many events were lost and why; with a
// spool they are kept there (exit 0); with a healthy upstream they are delivered (exit 0).
#include "serve_client.hpp"
#include "spool_support.hpp"

#include <catch2/catch.hpp>

#include <csignal>

using namespace evrelay::test;

namespace {

constexpr const char* k_key = "sdk-shutdown-status-0001";

// Posts `events` once; the flush interval is long, so they wait in the queue for SIGTERM.
void post_once(std::uint16_t port, const std::vector<std::string>& events) {
    REQUIRE(http_request(port, "POST", "/bulk",
                         {{"Authorization", k_key}, {"X-LaunchDarkly-Event-Schema", "4"}},
                         as_array(events))
                .status == 202);
}

std::vector<std::string> serve_args(const RecordingUpstream& upstream) {
    // One retry, soon: the payload runs out of attempts well within --shutdown-timeout.
    return {"--sdk-key", k_key, "--events-uri",  upstream.url(), "--flush-interval",   "1h",
            "--retries", "1",   "--retry-delay", "50ms",         "--shutdown-timeout", "10s"};
}

} // namespace

TEST_CASE("serve exits 75 when SIGTERM loses accepted events, 0 when none is lost",
          "[serve][shutdown]") {
    RecordingUpstream upstream;
    const auto events = make_events(7);

    SECTION("upstream 503 forever, no spool: 75 and the count of lost events") {
        upstream.set_default_status(503);
        ServeProcess serve(serve_args(upstream));
        post_once(serve.port(), events);
        serve.process().send_signal(SIGTERM);
        const auto status = serve.process().wait(std::chrono::seconds(20));
        const std::string log = serve.process().stderr_text();
        INFO(log);
        CHECK(status == 75);
        CHECK(log.find("serve: 7 event(s) lost at shutdown: 7 refused by the upstream until the "
                       "last retry; without --spool nothing keeps them") != std::string::npos);
        CHECK(upstream.request_count() == 2); // the first attempt and its retry
    }

    SECTION("upstream 503 forever, with a spool: 0 and the events on disk") {
        upstream.set_default_status(503);
        ScratchDir scratch;
        const std::string spool = scratch.path().string() + "/spool";
        auto args = serve_args(upstream);
        args.insert(args.end(), {"--spool", spool});
        ServeProcess serve(args);
        post_once(serve.port(), events);
        serve.process().send_signal(SIGTERM);
        const auto status = serve.process().wait(std::chrono::seconds(20));
        const std::string log = serve.process().stderr_text();
        INFO(log);
        CHECK(status == 0);
        CHECK(log.find("lost at shutdown") == std::string::npos);
        std::vector<std::string> kept;
        for (const auto& payload : spooled_payloads(spool)) {
            kept.insert(kept.end(), payload.events.begin(), payload.events.end());
        }
        CHECK(kept == events);
    }

    SECTION("events dropped before SIGTERM were reported then: they do not make it 75") {
        upstream.set_default_status(503);
        ServeProcess serve(serve_args(upstream));
        post_once(serve.port(), events);
        REQUIRE(http_request(serve.port(), "POST", "/admin/flush").status == 202);
        REQUIRE(wait_for_log(serve.process(), "dropped 7 event(s)"));
        upstream.set_default_status(202);
        serve.process().send_signal(SIGTERM);
        const auto status = serve.process().wait(std::chrono::seconds(20));
        INFO(serve.process().stderr_text());
        CHECK(status == 0);
    }

    SECTION("a healthy upstream: 0, everything delivered") {
        ServeProcess serve(serve_args(upstream));
        post_once(serve.port(), events);
        serve.process().send_signal(SIGTERM);
        const auto status = serve.process().wait(std::chrono::seconds(20));
        INFO(serve.process().stderr_text());
        CHECK(status == 0);
        CHECK(all_events(upstream.requests()) == events);
    }
}
