// SPEC §9/§10: every caCertFiles entry is trusted besides the system's CAs, for an HTTPS upstream
// reached through the proxy's CONNECT tunnel; without a configured proxy, HTTPS_PROXY and
// NO_PROXY still work. The CAs are made at test time (tests/support/test_certificates.hpp).
#include "harness.hpp"
#include "tests/support/auth_proxy.hpp"
#include "tests/support/test_certificates.hpp"

#include <catch2/catch.hpp>

using namespace evrelay::test;

namespace {

constexpr const char* k_user = "relay";
constexpr const char* k_password = "p @:/w";
constexpr std::size_t k_events = 300;
constexpr std::size_t k_payloads = 3; // --batch-size 100

RunResult replay(const std::string& input, std::vector<std::string> args,
                 std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), {"replay", "--sdk-key", "sdk-proxy-test-0002", "--batch-size", "100",
                               "--retries", "0"});
    args.push_back(input);
    return run_evrelay(args, std::nullopt, std::chrono::seconds(60), std::move(env));
}

} // namespace

TEST_CASE("an HTTPS upstream with a private CA is reached through the proxy when the second "
          "caCertFiles entry is that CA",
          "[replay][proxy][tls]") {
    ScratchDir dir;
    const auto certificates = make_test_certificates(dir);
    RecordingUpstream upstream(
        {certificates.server_certificate.string(), certificates.server_key.string()});
    AuthProxy proxy(k_user, k_password);
    const auto events = make_events(k_events);
    const auto input = dir.write("events.ndjson", as_ndjson(events));
    const auto config_with = [&](const std::string& ca_files) {
        return dir.write("relay.conf", "[Events]\neventsUri = " + upstream.url() +
                                           "\n[Proxy]\nurl = " + proxy.url() +
                                           "\nuser = " + k_user + "\npassword = \"" + k_password +
                                           "\"\ncaCertFiles = " + ca_files + "\n");
    };

    SECTION("both files: delivered") {
        const auto config =
            config_with(certificates.other_ca.string() + ", " + certificates.ca.string());
        const auto result = replay(input.string(), {"--config", config.string()});
        INFO(result.err);
        CHECK(result.status == 0);
        CHECK(proxy.tunnels() >= 1); // keep-alive: usually one tunnel carries every payload
        CHECK(proxy.refused() == 0);
        CHECK(upstream.request_count() == k_payloads);
        CHECK(all_events(upstream.requests()).size() == k_events);
    }
    SECTION("the first file alone: the certificate is not trusted, nothing is delivered") {
        const auto config = config_with(certificates.other_ca.string());
        const auto result = replay(input.string(), {"--config", config.string()});
        INFO(result.err);
        CHECK(result.status == 75);
        CHECK(proxy.tunnels() >= 1);
        CHECK(upstream.request_count() == 0);
    }
    SECTION("PROXY_CA_CERTS gives the files the same way") {
        const auto result = replay(
            input.string(), {"--events-uri", upstream.url()},
            {{"PROXY_URL", proxy.url()},
             {"PROXY_AUTH_USER", k_user},
             {"PROXY_AUTH_PASSWORD", k_password},
             {"PROXY_CA_CERTS", certificates.other_ca.string() + "," + certificates.ca.string()}});
        INFO(result.err);
        CHECK(result.status == 0);
        CHECK(upstream.request_count() == k_payloads);
    }
    SECTION("a caCertFiles entry that cannot be read stops the start, naming it") {
        const auto missing = (dir / "missing-ca.pem").string();
        const auto config = config_with(certificates.ca.string() + "," + missing);
        const auto result = replay(input.string(), {"--config", config.string()});
        CHECK(result.status == 78);
        CHECK_THAT(result.err, Catch::Contains(missing));
        CHECK(proxy.tunnels() == 0);
    }
}

TEST_CASE("without [Proxy] url, HTTPS_PROXY (credentials in its URL) and NO_PROXY still work",
          "[replay][proxy][tls]") {
    ScratchDir dir;
    const auto certificates = make_test_certificates(dir);
    RecordingUpstream upstream(
        {certificates.server_certificate.string(), certificates.server_key.string()});
    AuthProxy proxy(k_user, k_password);
    const auto input = dir.write("events.ndjson", as_ndjson(make_events(k_events)));
    const std::string proxy_url =
        "http://relay:p%20%40%3A%2Fw@127.0.0.1:" + std::to_string(proxy.port());
    const std::vector<std::string> args = {"--events-uri", upstream.url(), "--ca-cert",
                                           certificates.ca.string()};

    SECTION("HTTPS_PROXY: through the proxy") {
        const auto result = replay(input.string(), args, {{"HTTPS_PROXY", proxy_url}});
        INFO(result.err);
        CHECK(result.status == 0);
        CHECK(proxy.tunnels() >= 1);
        CHECK(upstream.request_count() == k_payloads);
    }
    SECTION("NO_PROXY names the upstream: straight to it") {
        const auto result =
            replay(input.string(), args, {{"HTTPS_PROXY", proxy_url}, {"NO_PROXY", "127.0.0.1"}});
        INFO(result.err);
        CHECK(result.status == 0);
        CHECK(proxy.authorizations().empty());
        CHECK(upstream.request_count() == k_payloads);
    }
}
