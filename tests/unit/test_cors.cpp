#include "core/inbound/cors.hpp"

#include <catch2/catch.hpp>

#include <optional>

using namespace evrelay;

namespace {

std::optional<std::string> find(const std::vector<std::pair<std::string, std::string>>& headers,
                                std::string_view name) {
    std::optional<std::string> value;
    for (const auto& [key, v] : headers) {
        if (key == name) {
            REQUIRE_FALSE(value); // each header once
            value = v;
        }
    }
    return value;
}

} // namespace

TEST_CASE("cors_headers", "[inbound]") {
    SECTION("no allowedOrigin list: any origin gets *") {
        Environment env;
        env.env_id = "abc";
        const auto headers = cors_headers("http://example.com", &env);
        CHECK(find(headers, "Access-Control-Allow-Origin") == "*");
        CHECK(find(headers, "Access-Control-Allow-Credentials") == "false");
        CHECK(find(headers, "Access-Control-Max-Age") == "300");
        CHECK(find(headers, "Access-Control-Expose-Headers") == "Date");
        CHECK(find(headers, "Access-Control-Allow-Headers") ==
              "Cache-Control,Content-Type,Content-Length,Accept-Encoding,X-LaunchDarkly-User-Agent,"
              "X-LaunchDarkly-Payload-ID,X-LaunchDarkly-Wrapper,X-LaunchDarkly-Event-Schema,"
              "X-LaunchDarkly-Tags");
        CHECK_FALSE(find(headers, "Vary"));
    }
    SECTION("a listed origin is echoed") {
        Environment env;
        env.allowed_origins = {"https://a.example", "https://b.example"};
        const auto headers = cors_headers("https://b.example", &env);
        CHECK(find(headers, "Access-Control-Allow-Origin") == "https://b.example");
        CHECK(find(headers, "Vary") == "Origin");
    }
    SECTION("an origin not on the list gets no Allow-Origin") {
        Environment env;
        env.allowed_origins = {"https://a.example"};
        CHECK_FALSE(
            find(cors_headers("https://evil.example", &env), "Access-Control-Allow-Origin"));
        CHECK_FALSE(find(cors_headers("", &env), "Access-Control-Allow-Origin"));
    }
    SECTION("the environment's allowedHeader entries are appended") {
        Environment env;
        env.allowed_headers = {"X-Custom", "X-Other"};
        const auto allowed = find(cors_headers("", &env), "Access-Control-Allow-Headers");
        REQUIRE(allowed);
        CHECK(allowed->ends_with("X-LaunchDarkly-Tags,X-Custom,X-Other"));
    }
    SECTION("unknown environment") {
        const auto headers = cors_headers("http://x", nullptr);
        CHECK(find(headers, "Access-Control-Allow-Origin") == "*");
        CHECK(find(headers, "Access-Control-Max-Age") == "300");
    }
}
