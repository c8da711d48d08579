#include "core/upstream/upstream_request.hpp"

#include <catch2/catch.hpp>

#include <map>

using namespace evrelay;

namespace {

std::map<std::string, std::string> header_map(const UpstreamRequest& request) {
    return {request.headers.begin(), request.headers.end()};
}

Environment environment() {
    Environment e;
    e.name = "production";
    e.sdk_key = "sdk-key-1";
    e.mobile_key = "mob-key-2";
    e.env_id = "envid3";
    return e;
}

} // namespace

TEST_CASE("describe_upstream_request", "[sender]") {
    UpstreamRequestOptions options{"https://events.example.com/", "evrelay/test", true};
    Payload payload;
    payload.id = "11111111-2222-4333-8444-555555555555";
    payload.env_name = "production";
    payload.metadata = PayloadMetadata{4, "application-id/web"};

    SECTION("server analytics carries every SPEC §2 header") {
        auto request = describe_upstream_request(payload, environment(), options);
        REQUIRE(request);
        CHECK(request->url == "https://events.example.com/bulk");
        CHECK(header_map(*request) == std::map<std::string, std::string>{
                                          {"Content-Type", "application/json"},
                                          {"Authorization", "sdk-key-1"},
                                          {"User-Agent", "evrelay/test"},
                                          {"X-LaunchDarkly-Event-Schema", "4"},
                                          {"X-LaunchDarkly-Payload-ID", payload.id},
                                          {"X-LaunchDarkly-Tags", "application-id/web"},
                                          {"Content-Encoding", "gzip"},
                                      });
    }
    SECTION("mobile uses the mobile key and path; no tags header when tags are empty") {
        payload.sdk = SdkKind::mobile;
        payload.metadata.tags.clear();
        options.gzip = false;
        auto request = describe_upstream_request(payload, environment(), options);
        REQUIRE(request);
        CHECK(request->url == "https://events.example.com/mobile");
        const auto headers = header_map(*request);
        CHECK(headers.at("Authorization") == "mob-key-2");
        CHECK(headers.count("X-LaunchDarkly-Tags") == 0);
        CHECK(headers.count("Content-Encoding") == 0);
    }
    SECTION("js is addressed by the client-side ID and has no Authorization") {
        payload.sdk = SdkKind::js;
        auto request = describe_upstream_request(payload, environment(), options);
        REQUIRE(request);
        CHECK(request->url == "https://events.example.com/events/bulk/envid3");
        CHECK(header_map(*request).count("Authorization") == 0);
    }
    SECTION("diagnostics: no payload ID or schema; inbound headers passed through") {
        payload.data = DataKind::diagnostic;
        payload.id.clear();
        auto plain = describe_upstream_request(payload, environment(), options);
        REQUIRE(plain);
        CHECK(plain->url == "https://events.example.com/diagnostic");
        CHECK(header_map(*plain).count("X-LaunchDarkly-Payload-ID") == 0);
        CHECK(header_map(*plain).count("X-LaunchDarkly-Event-Schema") == 0);

        payload.passthrough_headers = {{"Authorization", "sdk-key-1"},
                                       {"User-Agent", "NodeJSClient/9.13.7"}};
        options.gzip = false;
        auto passed = describe_upstream_request(payload, environment(), options);
        REQUIRE(passed);
        CHECK(passed->headers == payload.passthrough_headers);
    }
    SECTION("no credential of the payload's kind: not sendable") {
        Environment only_server = environment();
        only_server.mobile_key.clear();
        payload.sdk = SdkKind::mobile;
        const auto request = describe_upstream_request(payload, only_server, options);
        REQUIRE_FALSE(request);
        CHECK(request.error().kind == ErrorKind::config);
        CHECK_THAT(request.error().message, Catch::Contains("has no mobile key"));
    }
}
