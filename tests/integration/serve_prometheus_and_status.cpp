// [Prometheus] enabled/port/prefix (USE_PROMETHEUS, PROMETHEUS_PORT, PROMETHEUS_PREFIX) serve
// /metrics on a port of their own, with the prefix on every name, and /status has Relay's shape
// (SPEC §4, §9).
#include "serve_client.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <thread>

using namespace evrelay::test;

namespace {

constexpr const char* k_sdk_key = "sdk-prometheus-test-0001";

// Waits (bounded) for "serve: Prometheus metrics on 127.0.0.1:PORT/metrics"; 0 if it never came.
std::uint16_t wait_for_metrics_port(ChildProcess& process) {
    constexpr std::string_view k_marker = "serve: Prometheus metrics on 127.0.0.1:";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
        const std::string err = process.stderr_text();
        if (const auto at = err.find(k_marker); at != std::string::npos) {
            return static_cast<std::uint16_t>(std::stoi(err.substr(at + k_marker.size())));
        }
        if (!process.running()) {
            return 0;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return 0;
}

void post_events(std::uint16_t port, std::size_t count) {
    CHECK(http_request(port, "POST", "/bulk",
                       {{"Authorization", k_sdk_key}, {"X-LaunchDarkly-Event-Schema", "4"}},
                       as_array(make_events(count)))
              .status == 202);
}

} // namespace

TEST_CASE("serve: [Prometheus] serves /metrics on its own port with the prefix", "[serve]") {
    RecordingUpstream upstream;
    ScratchDir dir;
    const auto config = dir.write("relay.conf", "[Events]\neventsUri = " + upstream.url() +
                                                    "\n[Prometheus]\nenabled = true\nport = 0\n"
                                                    "prefix = myrelay\n"
                                                    "[Environment \"production\"]\nsdkKey = " +
                                                    k_sdk_key + "\n");
    auto process = start_evrelay({"serve", "--config", config.string(), "--bind", "127.0.0.1",
                                  "--port", "0", "--flush-interval", "1h"});
    ServeGuard guard(*process);
    const auto port = wait_for_listening(*process);
    const auto metrics_port = wait_for_metrics_port(*process);
    INFO(process->stderr_text());
    REQUIRE(port != 0);
    REQUIRE(metrics_port != 0);
    CHECK(metrics_port != port);

    post_events(port, 3);
    const std::string received =
        "myrelay_evrelay_events_received_total{env=\"production\",sdk=\"server\"} 3\n";
    const auto scraped = http_request(metrics_port, "GET", "/metrics");
    CHECK(scraped.status == 200);
    CHECK(scraped.header("content-type").starts_with("text/plain; version=0.0.4"));
    CHECK_THAT(scraped.body, Catch::Contains(received));
    CHECK_THAT(scraped.body,
               Catch::Contains("# TYPE myrelay_evrelay_events_dropped_total counter"));
    CHECK(scraped.body.find("\nevrelay_") == std::string::npos); // every name has the prefix
    // The main port keeps /metrics, with the same names.
    CHECK_THAT(http_request(port, "GET", "/metrics").body, Catch::Contains(received));
    // The Prometheus port serves nothing else.
    CHECK(http_request(metrics_port, "GET", "/status").status == 404);
    CHECK(
        http_request(metrics_port, "POST", "/bulk", {{"Authorization", k_sdk_key}}, "[]").status ==
        404);
    CHECK(http_request(metrics_port, "POST", "/metrics").status == 405);
    CHECK(guard.stop() == 0);
    // Both ports are closed once serve has stopped.
    CHECK(http_request(metrics_port, "GET", "/metrics").status == 0);
}

TEST_CASE("serve: USE_PROMETHEUS and PROMETHEUS_PORT open Relay's metrics port", "[serve]") {
    RecordingUpstream upstream;
    const auto metrics_port = free_port();
    auto process =
        start_evrelay({"serve", "--bind", "127.0.0.1", "--port", "0", "--flush-interval", "1h"},
                      {{"USE_PROMETHEUS", "true"},
                       {"PROMETHEUS_PORT", std::to_string(metrics_port)},
                       {"EVENTS_HOST", upstream.url()},
                       {"LD_ENV_production", k_sdk_key}});
    ServeGuard guard(*process);
    const auto port = wait_for_listening(*process);
    INFO(process->stderr_text());
    REQUIRE(port != 0);
    CHECK(wait_for_metrics_port(*process) == metrics_port);
    post_events(port, 2);
    CHECK_THAT(http_request(metrics_port, "GET", "/metrics").body,
               Catch::Contains("\nevrelay_events_received_total{env=\"production\",sdk=\"server\"} "
                               "2\n"));
    CHECK(guard.stop() == 0);
}

TEST_CASE("serve: /status has the Relay Proxy's shape", "[serve]") {
    RecordingUpstream upstream;
    auto process = start_evrelay({"serve", "--bind", "127.0.0.1", "--port", "0", "--sdk-key",
                                  k_sdk_key, "--env-id", "5e0000000000000000000abc", "--events-uri",
                                  upstream.url(), "--flush-interval", "1h"});
    ServeGuard guard(*process);
    const auto port = wait_for_listening(*process);
    INFO(process->stderr_text());
    REQUIRE(port != 0);
    post_events(port, 2);
    const auto status = http_request(port, "GET", "/status");
    INFO(status.body);
    CHECK(status.status == 200);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    REQUIRE(parser.parse(status.body).get(doc) == simdjson::SUCCESS);
    CHECK(std::string_view(doc["status"]) == "healthy");
    CHECK(std::string_view(doc["version"]).size() > 0);
    const auto env = doc["environments"]["default"];
    CHECK(std::string_view(env["status"]) == "connected");
    CHECK(std::string_view(env["sdkKey"]) == "sdk-****0001");
    CHECK(std::string_view(env["envId"]).find("0abc") != std::string_view::npos);
    CHECK(env["mobileKey"].error() == simdjson::NO_SUCH_FIELD);
    CHECK(std::uint64_t(doc["evrelay"]["counters"]["eventsReceived"]) == 2);
    CHECK(std::string_view(doc["evrelay"]["upstream"]["state"]) == "unknown");
    CHECK(status.body.find(k_sdk_key) == std::string::npos);
    CHECK(guard.stop() == 0);
}
