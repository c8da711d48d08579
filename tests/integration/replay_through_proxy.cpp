// SPEC §9: the proxy's credentials go to libcurl as credentials — a password with a space, "@",
// ":" and "/" works from the file, the variables and the URL — and never appear in a log line.
// A proxy that refuses them (407) is a configuration problem: no retry, exit 78, one error
// naming the proxy (masked URL).
#include "harness.hpp"
#include "tests/support/auth_proxy.hpp"

#include <catch2/catch.hpp>

using namespace evrelay::test;

namespace {

constexpr const char* k_user = "relay";
constexpr const char* k_password = "ch@nge me:/now";
// The same, percent-encoded for a URL's userinfo.
constexpr const char* k_encoded_password = "ch%40nge%20me%3A%2Fnow";
constexpr std::size_t k_events = 1000;
constexpr std::size_t k_payloads = 10; // --batch-size 100

std::string proxy_section(const AuthProxy& proxy, const std::string& password) {
    return std::string("[Proxy]\nurl = ") + proxy.url() + "\nuser = " + k_user + "\npassword = \"" +
           password + "\"\n";
}

RunResult replay(const std::string& input, std::vector<std::string> args,
                 std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), {"replay", "--sdk-key", "sdk-proxy-test-0001", "--batch-size", "100",
                               "--retries", "2", "--retry-delay", "10ms"});
    args.push_back(input);
    return run_evrelay(args, std::nullopt, std::chrono::seconds(60), std::move(env));
}

} // namespace

// (Catch2 v2's console reporter loops forever wrapping a test name with " / " in it.)
TEST_CASE("replay delivers every event through a Basic proxy, password with at-sign, colon, "
          "slash and space",
          "[replay][proxy]") {
    RecordingUpstream upstream;
    AuthProxy proxy(k_user, k_password);
    ScratchDir dir;
    const auto events = make_events(k_events);
    const auto input = dir.write("events.ndjson", as_ndjson(events));

    RunResult result;
    SECTION("from [Proxy] url, user and password") {
        const auto config = dir.write("relay.conf", proxy_section(proxy, k_password));
        result =
            replay(input.string(), {"--config", config.string(), "--events-uri", upstream.url()});
    }
    SECTION("from PROXY_URL, PROXY_AUTH_USER and PROXY_AUTH_PASSWORD") {
        result = replay(input.string(), {"--events-uri", upstream.url()},
                        {{"PROXY_URL", proxy.url()},
                         {"PROXY_AUTH_USER", k_user},
                         {"PROXY_AUTH_PASSWORD", k_password}});
    }
    SECTION("from the URL of --proxy, percent-encoded") {
        const std::string url = "http://" + std::string(k_user) + ":" + k_encoded_password +
                                "@127.0.0.1:" + std::to_string(proxy.port());
        result = replay(input.string(), {"--proxy", url, "--events-uri", upstream.url()});
        CHECK_THAT(result.err, !Catch::Contains(k_encoded_password));
    }
    INFO(result.err);
    CHECK(result.status == 0);
    CHECK(proxy.refused() == 0);
    CHECK(proxy.forwarded() == k_payloads); // an http:// upstream: one forwarded request each
    CHECK(upstream.request_count() == k_payloads);
    auto delivered = all_events(upstream.requests());
    std::sort(delivered.begin(), delivered.end());
    auto expected = events;
    std::sort(expected.begin(), expected.end());
    CHECK(delivered == expected);
    CHECK_THAT(result.err, !Catch::Contains(k_password));
}

TEST_CASE("a wrong proxy password exits 78 naming the proxy, never the password",
          "[replay][proxy]") {
    AuthProxy proxy(k_user, k_password);
    ScratchDir dir;
    const auto input = dir.write("events.ndjson", as_ndjson(make_events(k_events)));
    const std::string wrong = "wr@ng pass:/word";
    const std::string proxy_named = "the proxy " + proxy.url() + " answered 407";

    SECTION("an http:// upstream: the proxy's 407 is the response") {
        RecordingUpstream upstream;
        const auto config = dir.write("relay.conf", proxy_section(proxy, wrong));
        const auto result =
            replay(input.string(), {"--config", config.string(), "--events-uri", upstream.url()});
        INFO(result.err);
        CHECK(result.status == 78);
        CHECK(upstream.request_count() == 0);
        CHECK(proxy.refused() == k_payloads); // each payload tried once: no retry of a 407
        CHECK_THAT(result.err, Catch::Contains(proxy_named));
        CHECK_THAT(result.err, Catch::Contains("check [Proxy] user and password"));
        CHECK_THAT(result.err, !Catch::Contains(wrong));
    }
    SECTION("an https:// upstream: the proxy refuses the CONNECT") {
        const auto config = dir.write("relay.conf", proxy_section(proxy, wrong));
        // The proxy answers before any TLS: no upstream needs to listen there.
        const auto result = replay(
            input.string(), {"--config", config.string(), "--events-uri", "https://127.0.0.1:9"});
        INFO(result.err);
        CHECK(result.status == 78);
        CHECK(proxy.refused() == k_payloads);
        CHECK(proxy.tunnels() == 0);
        CHECK_THAT(result.err, Catch::Contains(proxy_named));
        CHECK_THAT(result.err, !Catch::Contains(wrong));
    }
    SECTION("credentials in the URL: the URL is logged masked") {
        RecordingUpstream upstream;
        const std::string url =
            "http://relay:wr%40ng%20pass@127.0.0.1:" + std::to_string(proxy.port());
        const auto result =
            replay(input.string(), {"--proxy", url, "--events-uri", upstream.url()});
        INFO(result.err);
        CHECK(result.status == 78);
        CHECK_THAT(result.err, Catch::Contains("the proxy http://****@127.0.0.1:" +
                                               std::to_string(proxy.port()) + " answered 407"));
        CHECK_THAT(result.err, !Catch::Contains("wr%40ng") && !Catch::Contains("wr@ng"));
    }
    SECTION("no credentials at all") {
        RecordingUpstream upstream;
        const auto result =
            replay(input.string(), {"--proxy", proxy.url(), "--events-uri", upstream.url()});
        INFO(result.err);
        CHECK(result.status == 78);
        CHECK_THAT(result.err, Catch::Contains("no proxy credentials are configured"));
    }
}

TEST_CASE("ntlmAuth makes libcurl negotiate NTLM with the proxy as domain\\user",
          "[replay][proxy]") {
    RecordingUpstream upstream;
    AuthProxy proxy(k_user, k_password); // speaks Basic only: the NTLM negotiation fails
    ScratchDir dir;
    const auto input = dir.write("events.ndjson", as_ndjson(make_events(10)));
    const auto config = dir.write("relay.conf", proxy_section(proxy, k_password) +
                                                    "domain = CORP\nntlmAuth = true\n");
    const auto result =
        replay(input.string(), {"--config", config.string(), "--events-uri", upstream.url()});
    INFO(result.err);
    CHECK_THAT(result.err, Catch::Contains("(NTLM authentication)"));
    const auto seen = proxy.authorizations();
    REQUIRE_FALSE(seen.empty());
    // An NTLM negotiate message (type 1): base64 of "NTLMSSP\0" and the type.
    CHECK_THAT(seen.front(), Catch::StartsWith("NTLM TlRMTVNTUAABAAAA"));
    CHECK(result.status == 78);
    CHECK(upstream.request_count() == 0);
}

TEST_CASE("proxy settings that cannot work stop replay before it sends (exit 78)",
          "[replay][proxy]") {
    ScratchDir dir;
    const auto input = dir.write("events.ndjson", as_ndjson(make_events(1)));
    SECTION("ntlmAuth without a user and a password, as Relay refuses it") {
        const auto config =
            dir.write("relay.conf", "[Proxy]\nurl = http://127.0.0.1:9\nntlmAuth = true\n");
        const auto result = replay(input.string(), {"--config", config.string()});
        CHECK(result.status == 78);
        CHECK_THAT(result.err, Catch::Contains("NTLM proxy authentication needs a user"));
    }
    SECTION("ntlmAuth without a proxy URL") {
        const auto result = replay(input.string(), {}, {{"PROXY_AUTH_NTLM", "true"}});
        CHECK(result.status == 78);
        CHECK_THAT(result.err, Catch::Contains("ntlmAuth (PROXY_AUTH_NTLM) needs a proxy URL"));
    }
    SECTION("a proxy URL libcurl cannot parse, its password masked") {
        const auto result =
            replay(input.string(), {"--proxy", "http://relay:s3cret@bad host:3128"});
        CHECK(result.status == 78);
        CHECK_THAT(result.err, Catch::Contains("http://****@bad host:3128"));
        CHECK_THAT(result.err, !Catch::Contains("s3cret"));
    }
}
