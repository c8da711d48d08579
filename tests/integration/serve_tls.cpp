// `serve --tls-cert --tls-key` answers posts over HTTPS and forwards them.
#include "serve_client.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>

using namespace evrelay::test;

TEST_CASE("serve accepts posts over TLS with --tls-cert and --tls-key", "[serve]") {
    RecordingUpstream upstream;
    ScratchDir dir;
    const auto key = dir / "key.pem";
    const auto cert = dir / "cert.pem";
    // A SAN for 127.0.0.1 lets the client verify the certificate against the address it dials.
    const std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost "
                                "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -days 1 "
                                "-keyout '" +
                                key.string() + "' -out '" + cert.string() + "' 2>/dev/null";
    REQUIRE(std::system(command.c_str()) == 0);

    ServeProcess serve({"--sdk-key", "sdk-tls-test-0001", "--events-uri", upstream.url(),
                        "--flush-interval", "1h", "--tls-cert", cert.string(), "--tls-key",
                        key.string()});
    ServeGuard guard(serve);
    CHECK(serve.process().stderr_text().find("(TLS 1.2+)") != std::string::npos);
    const auto events = make_events(4);
    const std::vector<std::pair<std::string, std::string>> headers = {
        {"Authorization", "sdk-tls-test-0001"}, {"X-LaunchDarkly-Event-Schema", "4"}};

    const auto unverified = send_request(serve.port(), {.target = "/bulk",
                                                        .headers = headers,
                                                        .body = as_array({events[0], events[1]}),
                                                        .https = true});
    CHECK(unverified.status == 202);
    const auto verified = send_request(serve.port(), {.target = "/bulk",
                                                      .headers = headers,
                                                      .body = as_array({events[2], events[3]}),
                                                      .https = true,
                                                      .ca_file = cert.string()});
    CHECK(verified.status == 202);
    // Plain HTTP on the TLS port gets no HTTP answer.
    CHECK(http_request(serve.port(), "POST", "/bulk", headers, as_array({events[0]})).status !=
          202);

    const auto flush = send_request(serve.port(), {.target = "/admin/flush", .https = true});
    CHECK(flush.status == 202);
    REQUIRE(upstream.wait_for_requests(1, std::chrono::seconds(10)));
    const auto requests = upstream.requests();
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].target == "/bulk");
    CHECK(requests[0].header("authorization") == "sdk-tls-test-0001");
    CHECK(all_events(requests) == events);

    const auto status = guard.stop();
    INFO(serve.process().stderr_text());
    CHECK(status == 0);
}
