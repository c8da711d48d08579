#include "tests/support/auth_proxy.hpp"
#include "tests/support/recording_upstream.hpp"

#include "core/upstream/proxy_settings.hpp"

#include <catch2/catch.hpp>

#include <memory>

using namespace evrelay;

namespace {

CurlProxy ok(const OutboundProxy& proxy) {
    auto curl = curl_proxy_for(proxy);
    if (!curl) {
        FAIL("unexpected error: " << curl.error().message);
    }
    return *curl;
}

} // namespace

TEST_CASE("curl_proxy_for: no proxy URL leaves libcurl's default alone", "[proxy]") {
    CHECK(ok({}) == CurlProxy{});
}

TEST_CASE("curl_proxy_for: [Proxy] user and password are credentials, not URL text", "[proxy]") {
    const auto curl =
        ok({.url = "http://proxy.internal:3128", .user = "relay", .password = "change me @:/ %41"});
    CHECK(curl.url == "http://proxy.internal:3128");
    CHECK(curl.username == "relay");
    CHECK(curl.password == "change me @:/ %41"); // as written: no URL decoding of a credential
    CHECK(curl.auth == CURLAUTH_BASIC);
}

TEST_CASE("curl_proxy_for: credentials in the URL are decoded out of it", "[proxy]") {
    SECTION("percent-encoded, as a URL wants them") {
        const auto curl = ok({.url = "http://re%40lay:p%20%40%3A%2Fw@proxy:3128/"});
        CHECK(curl.url == "http://proxy:3128/");
        CHECK(curl.username == "re@lay");
        CHECK(curl.password == "p @:/w");
        CHECK(curl.auth == CURLAUTH_BASIC);
    }
    SECTION("typed in unencoded: everything up to the last @") {
        const auto curl = ok({.url = "http://relay:p@ss/w%zz@proxy:3128"});
        CHECK(curl.url == "http://proxy:3128");
        CHECK(curl.username == "relay");
        CHECK(curl.password == "p@ss/w%zz");
    }
    SECTION("a user alone, and no scheme") {
        const auto curl = ok({.url = "relay@proxy:3128"});
        CHECK(curl.url == "proxy:3128");
        CHECK(curl.username == "relay");
        CHECK(curl.password.empty());
        CHECK(curl.auth == CURLAUTH_BASIC);
    }
    SECTION("[Proxy] user and password win, field by field") {
        const auto curl = ok({.url = "http://url-user:url-pw@proxy:3128", .user = "key-user"});
        CHECK(curl.username == "key-user");
        CHECK(curl.password == "url-pw");
    }
    SECTION("a URL without credentials is left as written") {
        const auto curl = ok({.url = "https://proxy.internal:8443"});
        CHECK(curl == CurlProxy{.url = "https://proxy.internal:8443"});
    }
}

TEST_CASE("curl_proxy_for: NTLM with a domain", "[proxy]") {
    const auto curl = ok({.url = "http://proxy:3128",
                          .user = "relay",
                          .password = "pw",
                          .domain = "CORP",
                          .ntlm = true});
    CHECK(curl.url == "http://proxy:3128");
    CHECK(curl.username == "CORP\\relay");
    CHECK(curl.password == "pw");
    CHECK(curl.auth == CURLAUTH_NTLM);
    CHECK(ok({.url = "http://relay:pw@proxy:3128", .ntlm = true}).username == "relay");
}

TEST_CASE("curl_proxy_for: refuses what cannot work, never showing a password", "[proxy]") {
    SECTION("NTLM without a user or a password (Relay refuses it too)") {
        for (const auto& proxy :
             {OutboundProxy{.url = "http://proxy:3128", .ntlm = true},
              OutboundProxy{.url = "http://proxy:3128", .user = "u", .ntlm = true}}) {
            const auto curl = curl_proxy_for(proxy);
            REQUIRE_FALSE(curl);
            CHECK(curl.error().kind == ErrorKind::config);
            CHECK_THAT(curl.error().message, Catch::Contains("NTLM"));
        }
    }
    SECTION("a URL libcurl cannot parse") {
        const auto curl = curl_proxy_for({.url = "http://relay:secret-pw@pro xy:3128"});
        REQUIRE_FALSE(curl);
        CHECK(curl.error().kind == ErrorKind::config);
        CHECK_THAT(curl.error().message, Catch::Contains("http://****@pro xy:3128"));
        CHECK_THAT(curl.error().message, !Catch::Contains("secret-pw"));
    }
}

TEST_CASE("describe_proxy masks the credentials of the URL", "[proxy]") {
    CHECK(describe_proxy({.url = "http://relay:pw@proxy:3128"}) == "http://****@proxy:3128");
    CHECK(describe_proxy({.url = "http://proxy:3128", .password = "pw"}) == "http://proxy:3128");
    CHECK_THAT(describe_proxy({}), Catch::Contains("HTTPS_PROXY"));
}

namespace {

// One GET through `proxy` to an upstream; returns the Proxy-Authorization the proxy saw.
std::string authorization_sent(const CurlProxy& settings, test::AuthProxy& proxy) {
    test::RecordingUpstream upstream;
    const std::unique_ptr<CURL, void (*)(CURL*)> easy(curl_easy_init(), curl_easy_cleanup);
    REQUIRE(easy);
    CurlProxy through = settings;
    through.url = proxy.url();
    REQUIRE(apply_curl_proxy(easy.get(), through));
    curl_easy_setopt(easy.get(), CURLOPT_URL, (upstream.url() + "/").c_str());
    curl_easy_setopt(easy.get(), CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(
        easy.get(), CURLOPT_WRITEFUNCTION,
        +[](char*, size_t size, size_t count, void*) { return size * count; });
    curl_easy_perform(easy.get());
    const auto seen = proxy.authorizations();
    REQUIRE_FALSE(seen.empty());
    return seen.front();
}

} // namespace

TEST_CASE("apply_curl_proxy hands libcurl the credentials and the method", "[proxy]") {
    test::AuthProxy proxy("relay", "p @:/w");
    SECTION("Basic, sent with the first request") {
        CHECK(
            authorization_sent({.username = "relay", .password = "p @:/w", .auth = CURLAUTH_BASIC},
                               proxy) == "Basic cmVsYXk6cCBAOi93"); // base64("relay:p @:/w")
        CHECK(proxy.forwarded() == 1);
        CHECK(proxy.refused() == 0);
    }
    SECTION("NTLM: libcurl opens with an NTLM negotiate message (type 1)") {
        // base64 of "NTLMSSP\0" followed by message type 1.
        CHECK_THAT(authorization_sent(
                       {.username = "CORP\\relay", .password = "pw", .auth = CURLAUTH_NTLM}, proxy),
                   Catch::StartsWith("NTLM TlRMTVNTUAABAAAA"));
        CHECK(proxy.refused() == 1); // this proxy speaks Basic only
    }
    SECTION("no credentials: none sent") {
        CHECK(authorization_sent({}, proxy).empty());
        CHECK(proxy.refused() == 1);
    }
}
