// A Relay configuration's TLS (SPEC §9, §10): [Main] tlsEnabled/tlsCert/tlsKey/tlsMinVersion and
// TLS_* serve HTTPS with the minimum version enforced; tlsEnabled without a key exits 78.
#include "serve_client.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>

using namespace evrelay::test;

namespace {

constexpr const char* k_sdk_key = "sdk-tls-config-0001";

struct Certificate {
    std::filesystem::path cert, key;
};

// A self-signed certificate for 127.0.0.1 (the client verifies against the address it dials).
Certificate make_certificate(const ScratchDir& dir) {
    Certificate made{dir / "cert.pem", dir / "key.pem"};
    const std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost "
                                "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -days 1 "
                                "-keyout '" +
                                made.key.string() + "' -out '" + made.cert.string() +
                                "' 2>/dev/null";
    REQUIRE(std::system(command.c_str()) == 0);
    return made;
}

// Whether a TLS handshake with only `version` offered ("tls1_2", "tls1_3") succeeds
// (openssl s_client exits 0 after a handshake once its stdin ends; bounded by timeout(1)).
bool handshake_succeeds(std::uint16_t port, const std::string& version) {
    const std::string command =
        "timeout 20 openssl s_client -connect 127.0.0.1:" + std::to_string(port) + " -" + version +
        " </dev/null >/dev/null 2>&1";
    return std::system(command.c_str()) == 0;
}

void post_over_https(std::uint16_t port, const Certificate& certificate,
                     const std::vector<std::string>& events) {
    const auto response = send_request(
        port, {.target = "/bulk",
               .headers = {{"Authorization", k_sdk_key}, {"X-LaunchDarkly-Event-Schema", "4"}},
               .body = as_array(events),
               .https = true,
               .ca_file = certificate.cert.string()});
    CHECK(response.status == 202);
}

} // namespace

TEST_CASE("serve: a Relay config with tlsEnabled serves HTTPS, tlsMinVersion 1.3 enforced",
          "[serve][tls]") {
    RecordingUpstream upstream;
    ScratchDir dir;
    const auto certificate = make_certificate(dir);
    const auto config = dir.write("relay.conf", "[Main]\n"
                                                "port = 8030\n"
                                                "tlsEnabled = true\n"
                                                "tlsCert = " +
                                                    certificate.cert.string() +
                                                    "\n"
                                                    "tlsKey = " +
                                                    certificate.key.string() +
                                                    "\n"
                                                    "tlsMinVersion = 1.3\n"
                                                    "[Events]\n"
                                                    "eventsUri = " +
                                                    upstream.url() +
                                                    "\n"
                                                    "[Environment \"production\"]\n"
                                                    "sdkKey = " +
                                                    k_sdk_key + "\n");
    auto process = start_evrelay({"serve", "--config", config.string(), "--bind", "127.0.0.1",
                                  "--port", "0", "--flush-interval", "1h"});
    ServeGuard guard(*process);
    const auto port = wait_for_listening(*process);
    INFO(process->stderr_text());
    REQUIRE(port != 0);
    CHECK(process->stderr_text().find("(TLS 1.3+)") != std::string::npos);

    CHECK(handshake_succeeds(port, "tls1_3"));
    CHECK_FALSE(handshake_succeeds(port, "tls1_2"));
    // Plain HTTP on the TLS port gets no HTTP answer.
    CHECK(http_request(port, "GET", "/status").status != 200);

    const auto events = make_events(3);
    post_over_https(port, certificate, events);
    CHECK(send_request(
              port, {.target = "/admin/flush", .https = true, .ca_file = certificate.cert.string()})
              .status == 202);
    REQUIRE(upstream.wait_for_requests(1, std::chrono::seconds(10)));
    CHECK(all_events(upstream.requests()) == events);
    CHECK(guard.stop() == 0);
}

TEST_CASE("serve: TLS_ENABLED, TLS_CERT and TLS_KEY serve HTTPS with TLS 1.2 and later",
          "[serve][tls]") {
    RecordingUpstream upstream;
    ScratchDir dir;
    const auto certificate = make_certificate(dir);
    auto process =
        start_evrelay({"serve", "--bind", "127.0.0.1", "--port", "0", "--flush-interval", "1h"},
                      {{"TLS_ENABLED", "true"},
                       {"TLS_CERT", certificate.cert.string()},
                       {"TLS_KEY", certificate.key.string()},
                       {"EVENTS_HOST", upstream.url()},
                       {"LD_ENV_production", k_sdk_key}});
    ServeGuard guard(*process);
    const auto port = wait_for_listening(*process);
    INFO(process->stderr_text());
    REQUIRE(port != 0);
    CHECK(process->stderr_text().find("(TLS 1.2+)") != std::string::npos);
    CHECK(handshake_succeeds(port, "tls1_2"));
    CHECK(handshake_succeeds(port, "tls1_3"));
    post_over_https(port, certificate, make_events(1));
    CHECK(guard.stop() == 0);
    // SIGTERM delivered what was queued.
    CHECK(upstream.requests().size() == 1);
}

TEST_CASE("serve: tlsEnabled without tlsKey exits 78 naming the missing key", "[serve][tls]") {
    ScratchDir dir;
    const auto certificate = make_certificate(dir);
    const auto config = dir.write(
        "relay.conf", "[Main]\ntlsEnabled = true\ntlsCert = " + certificate.cert.string() +
                          "\n[Environment \"e\"]\nsdkKey = sdk-1\n");
    const auto result = run_process({.args = {EVRELAY_BINARY, "serve", "--config", config.string(),
                                              "--bind", "127.0.0.1", "--port", "0"},
                                     .unset_env = {"TLS_KEY", "TLS_ENABLED", "TLS_CERT"}},
                                    std::chrono::seconds(20));
    INFO(result.err);
    CHECK(result.status == 78);
    CHECK_THAT(result.err, Catch::Contains("tlsEnabled (TLS_ENABLED) is true but tlsKey (TLS_KEY) "
                                           "is not set"));
    CHECK(result.err.find("tlsCert (TLS_CERT)") == std::string::npos); // that one is set
}
