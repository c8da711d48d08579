#include "core/inbound/inbound_routes.hpp"

#include <catch2/catch.hpp>

using namespace evrelay;

namespace {

Route found(std::string_view method, std::string_view target) {
    const RouteMatch match = match_route(method, target);
    INFO(method << " " << target);
    REQUIRE(match.outcome == RouteOutcome::found);
    return match.route;
}

} // namespace

TEST_CASE("match_route: SDK post routes of SPEC §4", "[inbound]") {
    struct Case {
        const char* path;
        SdkKind sdk;
        DataKind data;
    };
    const Case cases[] = {
        {"/bulk", SdkKind::server, DataKind::analytics},
        {"/diagnostic", SdkKind::server, DataKind::diagnostic},
        {"/mobile", SdkKind::mobile, DataKind::analytics},
        {"/mobile/events", SdkKind::mobile, DataKind::analytics},
        {"/mobile/events/bulk", SdkKind::mobile, DataKind::analytics},
        {"/mobile/events/diagnostic", SdkKind::mobile, DataKind::diagnostic},
        {"/events/bulk/env-123", SdkKind::js, DataKind::analytics},
        {"/events/diagnostic/env-123", SdkKind::js, DataKind::diagnostic},
    };
    for (const auto& c : cases) {
        const Route route = found("POST", c.path);
        CHECK(route.kind == RouteKind::events);
        CHECK(route.sdk == c.sdk);
        CHECK(route.data == c.data);
        CHECK_FALSE(route.preflight);
        CHECK(route.env_id == (c.sdk == SdkKind::js ? "env-123" : ""));
    }
}

TEST_CASE("match_route: query strings are ignored", "[inbound]") {
    CHECK(found("POST", "/bulk?x=1").sdk == SdkKind::server);
    CHECK(found("POST", "/events/bulk/abc?foo").env_id == "abc");
    CHECK(found("GET", "/status?verbose=1").kind == RouteKind::status);
}

TEST_CASE("match_route: OPTIONS only on js routes", "[inbound]") {
    const Route bulk = found("OPTIONS", "/events/bulk/abc");
    CHECK(bulk.preflight);
    CHECK(bulk.sdk == SdkKind::js);
    CHECK(found("OPTIONS", "/events/diagnostic/abc").preflight);
    CHECK(found("OPTIONS", "/a/abc.gif").preflight);

    const RouteMatch server = match_route("OPTIONS", "/bulk");
    CHECK(server.outcome == RouteOutcome::method_not_allowed);
    CHECK(server.allow == "POST");
}

TEST_CASE("match_route: image beacon", "[inbound]") {
    const Route route = found("GET", "/a/client-side-id.gif?d=W10");
    CHECK(route.kind == RouteKind::beacon);
    CHECK(route.sdk == SdkKind::js);
    CHECK(route.data == DataKind::analytics);
    CHECK(route.env_id == "client-side-id");
    CHECK(match_route("POST", "/a/x.gif").allow == "GET, OPTIONS");
    CHECK(match_route("GET", "/a/.gif").outcome == RouteOutcome::not_found);
    CHECK(match_route("GET", "/a/x/y.gif").outcome == RouteOutcome::not_found);
    CHECK(match_route("GET", "/a/x.png").outcome == RouteOutcome::not_found);
}

TEST_CASE("match_route: status, metrics, admin flush", "[inbound]") {
    CHECK(found("GET", "/status").kind == RouteKind::status);
    CHECK(found("GET", "/metrics").kind == RouteKind::metrics);
    CHECK(found("POST", "/admin/flush").kind == RouteKind::admin_flush);
    CHECK(match_route("POST", "/status").allow == "GET");
    CHECK(match_route("GET", "/admin/flush").allow == "POST");
}

TEST_CASE("match_route: 404 and 405", "[inbound]") {
    for (const char* path : {"/", "/bulk/", "/Bulk", "/events/bulk/", "/events/bulk",
                             "/events/bulk/a/b", "/mobile/", "/nope", ""}) {
        INFO(path);
        CHECK(match_route("POST", path).outcome == RouteOutcome::not_found);
    }
    const RouteMatch get_bulk = match_route("GET", "/bulk");
    CHECK(get_bulk.outcome == RouteOutcome::method_not_allowed);
    CHECK(get_bulk.allow == "POST");
    const RouteMatch put_js = match_route("PUT", "/events/bulk/abc");
    CHECK(put_js.outcome == RouteOutcome::method_not_allowed);
    CHECK(put_js.allow == "POST, OPTIONS");
    // Methods are case-sensitive (RFC 9110 §9.1).
    CHECK(match_route("post", "/bulk").outcome == RouteOutcome::method_not_allowed);
}

TEST_CASE("query_parameter", "[inbound]") {
    CHECK(query_parameter("/a/x.gif?d=abc", "d") == std::optional<std::string>("abc"));
    CHECK(query_parameter("/a/x.gif?x=1&d=a%2Bb%3D&d=second", "d") ==
          std::optional<std::string>("a+b="));
    CHECK(query_parameter("/a/x.gif?d=a+b", "d") == std::optional<std::string>("a+b"));
    CHECK(query_parameter("/a/x.gif?d", "d") == std::optional<std::string>(""));
    CHECK(query_parameter("/a/x.gif?dd=1", "d") == std::nullopt);
    CHECK(query_parameter("/a/x.gif", "d") == std::nullopt);
    CHECK(query_parameter("/a/x.gif?d=%zz", "d") == std::optional<std::string>("%zz"));
    CHECK(target_path("/bulk?x") == "/bulk");
}
