// SIGHUP applies in place what can change while serve runs (SPEC §9, issue 12 item 5): the
// events URI, the flush interval, environments added, CORS, the outbound proxy and its
// credentials; names what needs a restart (port, TLS); rejects a configuration it cannot use
// (an unreadable CA file) whole, and keeps delivering as before.
#include "serve_client.hpp"
#include "tests/support/auth_proxy.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <set>
#include <thread>

using namespace evrelay::test;

namespace {

constexpr const char* k_production_key = "sdk-reload-production-0001";
constexpr const char* k_staging_key = "sdk-reload-staging-0002";
constexpr const char* k_env_id = "5e00reload00000000000001";

// Waits (bounded) until `upstream` has recorded `count` events.
bool wait_for_events(const RecordingUpstream& upstream, std::size_t count,
                     std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (all_events(upstream.requests()).size() >= count) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

long post(std::uint16_t port, const std::string& key, std::size_t first_seq) {
    return http_request(port, "POST", "/bulk",
                        {{"Authorization", key}, {"X-LaunchDarkly-Event-Schema", "4"}},
                        as_array(make_events(1, first_seq)))
        .status;
}

} // namespace

TEST_CASE("serve applies a new events URI, flush interval, environment and CORS on SIGHUP, and "
          "names the port and TLS as needing a restart",
          "[serve][reload]") {
    RecordingUpstream first_upstream;
    RecordingUpstream second_upstream;
    ScratchDir dir;
    const std::uint16_t configured_port = free_port();
    const std::string production = std::string("[Environment \"production\"]\nsdkKey = ") +
                                   k_production_key + "\nenvId = " + k_env_id + "\n";
    const auto config = dir.write(
        "relay.conf", "[Main]\nport = " + std::to_string(configured_port) +
                          "\n[Events]\nflushInterval = 10m\neventsUri = " + first_upstream.url() +
                          "\n" + production + "allowedOrigin = https://a.example.com\n");
    // Flag data from a file: no poll of LaunchDarkly (through the proxy of a reload, either).
    const auto flags = dir.write("flags.json", R"({"flags":{},"segments":{}})");
    auto process = start_evrelay({"serve", "--config", config.string(), "--bind", "127.0.0.1",
                                  "--no-gzip", "--flags", flags.string()});
    ServeGuard guard(*process);
    const std::uint16_t port = wait_for_listening(*process);
    REQUIRE(port == configured_port);

    CHECK(post(port, k_production_key, 0) == 202); // queued for ten minutes
    CHECK(post(port, k_staging_key, 1) == 401);
    std::string bulk_path = "/events/bulk/";
    bulk_path += k_env_id;
    const auto preflight = [&](const std::string& origin) {
        return http_request(port, "OPTIONS", bulk_path,
                            {{"Origin", origin}, {"Access-Control-Request-Method", "POST"}})
            .header("access-control-allow-origin");
    };
    CHECK(preflight("https://a.example.com") == "https://a.example.com");
    CHECK(preflight("https://b.example.com").empty());

    dir.write("relay.conf",
              "[Main]\nport = " + std::to_string(free_port()) +
                  "\ntlsEnabled = true\ntlsCert = /nonexistent/relay.crt\n"
                  "tlsKey = /nonexistent/relay.key\n[Events]\nflushInterval = 200ms\neventsUri = " +
                  second_upstream.url() + "\n" + production +
                  "allowedOrigin = https://b.example.com\n[Environment \"staging\"]\nsdkKey = " +
                  k_staging_key + "\n");
    process->send_signal(SIGHUP);
    REQUIRE(wait_for_log(*process, "configuration reloaded"));
    const std::string log = process->stderr_text();
    INFO(log);
    CHECK_THAT(log, Catch::Contains("applied: environment production: new CORS; environment "
                                    "staging added; flush interval 10m -> 200ms; events URI "));
    CHECK_THAT(log,
               Catch::Contains("serve: SIGHUP: port (" + std::to_string(configured_port) + " -> "));
    CHECK_THAT(log, Catch::Contains("serve: SIGHUP: TLS certificate (none -> "
                                    "/nonexistent/relay.crt) changed; restart evrelay to apply"));

    // The event queued under the 10-minute interval leaves with the next 200 ms flush, to the
    // new URI; so do the new environment's.
    CHECK(post(port, k_staging_key, 2) == 202);
    CHECK(wait_for_events(second_upstream, 2, std::chrono::seconds(10)));
    CHECK(first_upstream.requests().empty());
    std::set<std::string> keys;
    for (const auto& request : second_upstream.requests()) {
        keys.insert(request.header("authorization"));
    }
    CHECK(keys == std::set<std::string>{k_production_key, k_staging_key});
    CHECK(preflight("https://b.example.com") == "https://b.example.com");
    CHECK(preflight("https://a.example.com").empty());
    // Still plain HTTP on the port it started with.
    CHECK(post(port, k_production_key, 3) == 202);
    CHECK(guard.stop() == 0);
    CHECK(all_events(second_upstream.requests()).size() == 3);
}

TEST_CASE("serve takes a new proxy and its credentials on SIGHUP, and keeps them when the next "
          "configuration names a CA file it cannot read",
          "[serve][reload][proxy]") {
    RecordingUpstream upstream;
    const std::string password = "ch@nge me:/now";
    AuthProxy proxy("relay", password);
    ScratchDir dir;
    const std::string base = std::string("[Events]\nflushInterval = 100ms\neventsUri = ") +
                             upstream.url() +
                             "\n[Environment \"production\"]\nsdkKey = " + k_production_key + "\n";
    const auto config = dir.write("relay.conf", base);
    const auto flags = dir.write("flags.json", R"({"flags":{},"segments":{}})");
    auto process = start_evrelay({"serve", "--config", config.string(), "--bind", "127.0.0.1",
                                  "--port", "0", "--no-gzip", "--flags", flags.string()});
    ServeGuard guard(*process);
    const std::uint16_t port = wait_for_listening(*process);
    REQUIRE(port != 0);

    CHECK(post(port, k_production_key, 0) == 202);
    REQUIRE(wait_for_events(upstream, 1, std::chrono::seconds(10)));
    CHECK(proxy.forwarded() == 0); // straight to the upstream

    const std::string with_proxy = base + "[Proxy]\nurl = " + proxy.url() +
                                   "\nuser = relay\npassword = \"" + password + "\"\n";
    dir.write("relay.conf", with_proxy);
    process->send_signal(SIGHUP);
    REQUIRE(wait_for_log(*process, "configuration reloaded"));
    CHECK(post(port, k_production_key, 1) == 202);
    REQUIRE(wait_for_events(upstream, 2, std::chrono::seconds(10)));
    CHECK(proxy.forwarded() == 1);
    CHECK(proxy.refused() == 0);

    dir.write("relay.conf", with_proxy + "caCertFiles = /nonexistent/ca.pem\n");
    process->send_signal(SIGHUP);
    REQUIRE(wait_for_log(*process, "keeping the old configuration"));
    CHECK(post(port, k_production_key, 2) == 202);
    REQUIRE(wait_for_events(upstream, 3, std::chrono::seconds(10)));
    CHECK(proxy.forwarded() == 2); // the proxy of the last configuration that could be used

    const std::string log = process->stderr_text();
    INFO(log);
    CHECK_THAT(log, Catch::Contains("/nonexistent/ca.pem"));
    CHECK_THAT(log, !Catch::Contains("ch@nge") && !Catch::Contains("ch%40nge"));
    CHECK(guard.stop() == 0);
    CHECK(all_events(upstream.requests()).size() == 3);
}
