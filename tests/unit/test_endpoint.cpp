#include "core/model/endpoint.hpp"

#include <catch2/catch.hpp>

using namespace evrelay;

TEST_CASE("upstream_path", "[publisher][core]") {
    CHECK(upstream_path(SdkKind::server, DataKind::analytics, "") == "/bulk");
    CHECK(upstream_path(SdkKind::server, DataKind::diagnostic, "") == "/diagnostic");
    CHECK(upstream_path(SdkKind::mobile, DataKind::analytics, "") == "/mobile");
    CHECK(upstream_path(SdkKind::mobile, DataKind::diagnostic, "") == "/mobile/events/diagnostic");
    CHECK(upstream_path(SdkKind::js, DataKind::analytics, "5f0e") == "/events/bulk/5f0e");
    CHECK(upstream_path(SdkKind::js, DataKind::diagnostic, "5f0e") == "/events/diagnostic/5f0e");
}

TEST_CASE("upstream_url", "[publisher][core]") {
    CHECK(upstream_url("https://events.launchdarkly.com", "/bulk") ==
          "https://events.launchdarkly.com/bulk");
    CHECK(upstream_url("https://events.launchdarkly.com/", "/bulk") ==
          "https://events.launchdarkly.com/bulk");
    CHECK(upstream_url("http://127.0.0.1:8080/prefix//", "/mobile") ==
          "http://127.0.0.1:8080/prefix/mobile");
}

TEST_CASE("parse_sdk_kind and parse_data_kind", "[publisher][core]") {
    for (SdkKind kind : {SdkKind::server, SdkKind::mobile, SdkKind::js}) {
        CHECK(parse_sdk_kind(to_string(kind)) == kind);
    }
    CHECK(to_string(SdkKind::js) == "js");
    CHECK_FALSE(parse_sdk_kind("browser").has_value());
    CHECK_FALSE(parse_sdk_kind("").has_value());
    CHECK(parse_data_kind("analytics") == DataKind::analytics);
    CHECK(parse_data_kind("diagnostic") == DataKind::diagnostic);
    CHECK(to_string(DataKind::diagnostic) == "diagnostic");
    CHECK_FALSE(parse_data_kind("Analytics").has_value());
}
