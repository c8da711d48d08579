#include "core/upstream/request_header_cache.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace evrelay;

namespace {

Environment production(const std::string& sdk_key) {
    Environment env;
    env.name = "production";
    env.sdk_key = sdk_key;
    env.env_id = "envid3";
    return env;
}

Payload analytics(const std::string& id, const std::string& tags = "") {
    Payload payload;
    payload.id = id;
    payload.env_name = "production";
    payload.sdk = SdkKind::server;
    payload.data = DataKind::analytics;
    payload.metadata = PayloadMetadata{4, tags};
    payload.body = "[{}]";
    payload.event_count = 1;
    return payload;
}

bool has_line(const RequestHeaders& headers, const std::string& line) {
    return std::find(headers.lines.begin(), headers.lines.end(), line) != headers.lines.end();
}

} // namespace

TEST_CASE("RequestHeaderCache describes attempts once per kind of payload", "[sender]") {
    EnvironmentTable environments({production("sdk-1")});
    RequestHeaderCache cache(
        environments, UpstreamRequestOptions{"https://events.example.com", "evrelay/t", true});

    SECTION("payloads differing only in ID and body share one description without the ID") {
        auto first = cache.lookup(analytics("id-1"));
        auto second = cache.lookup(analytics("id-2"));
        REQUIRE(first);
        REQUIRE(second);
        CHECK(*first == *second);
        const RequestHeaders& headers = **first;
        CHECK(headers.url == "https://events.example.com/bulk");
        CHECK(headers.credential == "sdk-1");
        CHECK(headers.id_position != std::string::npos);
        CHECK(has_line(headers, "Authorization: sdk-1"));
        CHECK(has_line(headers, "Content-Encoding: gzip"));
        CHECK(has_line(headers, "Expect:"));
        for (const std::string& line : headers.lines) {
            CHECK(line.rfind("X-LaunchDarkly-Payload-ID", 0) != 0);
        }
    }
    SECTION("other metadata: another description") {
        auto plain = cache.lookup(analytics("id-1"));
        auto tagged = cache.lookup(analytics("id-1", "application-id/web"));
        REQUIRE(plain);
        REQUIRE(tagged);
        CHECK(*plain != *tagged);
        CHECK(has_line(**tagged, "X-LaunchDarkly-Tags: application-id/web"));
    }
    SECTION("a reload is seen at the next lookup, with the new credential") {
        auto before = cache.lookup(analytics("id-1"));
        REQUIRE(before);
        const auto generation = cache.generation();
        environments.replace({production("sdk-2")});
        auto after = cache.lookup(analytics("id-1"));
        REQUIRE(after);
        CHECK(cache.generation() != generation);
        CHECK((*after)->credential == "sdk-2");
        CHECK(has_line(**after, "Authorization: sdk-2"));
        CHECK((*before)->credential == "sdk-1"); // an attempt in flight keeps what it used
    }
    SECTION("a diagnostic pass-through is described for itself, with its own headers") {
        Payload diagnostic = analytics("");
        diagnostic.data = DataKind::diagnostic;
        diagnostic.passthrough_headers = {{"Authorization", "sdk-inbound"}};
        auto first = cache.lookup(diagnostic);
        auto second = cache.lookup(diagnostic);
        REQUIRE(first);
        REQUIRE(second);
        CHECK(*first != *second);
        CHECK(has_line(**first, "Authorization: sdk-inbound"));
    }
    SECTION("no such environment, or no credential for the kind: a config error") {
        Payload elsewhere = analytics("id-1");
        elsewhere.env_name = "staging";
        auto missing = cache.lookup(elsewhere);
        REQUIRE_FALSE(missing);
        CHECK(missing.error().kind == ErrorKind::config);
        CHECK_THAT(missing.error().message, Catch::Contains("no environment named staging"));

        Payload mobile = analytics("id-1");
        mobile.sdk = SdkKind::mobile;
        auto no_key = cache.lookup(mobile);
        REQUIRE_FALSE(no_key);
        CHECK(no_key.error().kind == ErrorKind::config);
        CHECK_THAT(no_key.error().message, Catch::Contains("has no mobile key"));
    }
}
