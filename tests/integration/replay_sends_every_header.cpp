// Every header of SPEC §2 on an analytics payload, with and without gzip, for each SDK kind.
#include "harness.hpp"

#include "core/util/uuid.hpp"

#include <catch2/catch.hpp>

using namespace evrelay::test;

TEST_CASE("replay sends every protocol header", "[replay]") {
    RecordingUpstream upstream;
    ScratchDir dir;
    const auto events = make_events(5);
    const auto input = dir.write("body.json", as_array(events));

    SECTION("server, gzip on by default") {
        const auto result = run_evrelay(
            {"replay", "--sdk-key", "sdk-headers-key-9876", "--events-uri", upstream.url() + "/",
             "--tags", "application-id/web application-version/1.2", input.string()});
        INFO(result.err);
        REQUIRE(result.status == 0);
        const auto requests = upstream.requests();
        REQUIRE(requests.size() == 1);
        const auto& request = requests[0];
        CHECK(request.method == "POST");
        CHECK(request.target == "/bulk");
        CHECK(request.header("content-type") == "application/json");
        CHECK(request.header("authorization") == "sdk-headers-key-9876");
        CHECK(request.header("user-agent") == std::string("evrelay/") + EVRELAY_VERSION);
        CHECK(request.header("x-launchdarkly-event-schema") == "4");
        CHECK(evrelay::util::is_uuid(request.header("x-launchdarkly-payload-id")));
        CHECK(request.header("x-launchdarkly-tags") ==
              "application-id/web application-version/1.2");
        CHECK(request.header("content-encoding") == "gzip");
        CHECK(request.raw_body != request.body);
        CHECK(events_of(request.body) == events);
    }
    SECTION("--no-gzip, no tags, schema 3") {
        const auto result =
            run_evrelay({"replay", "--sdk-key", "sdk-headers-key-9876", "--events-uri",
                         upstream.url(), "--no-gzip", "--schema", "3", input.string()});
        INFO(result.err);
        REQUIRE(result.status == 0);
        const auto requests = upstream.requests();
        REQUIRE(requests.size() == 1);
        CHECK(requests[0].header("content-encoding").empty());
        CHECK(requests[0].headers.count("x-launchdarkly-tags") == 0);
        CHECK(requests[0].header("x-launchdarkly-event-schema") == "3");
        CHECK(requests[0].raw_body == as_array(events));
    }
    SECTION("mobile") {
        const auto result = run_evrelay({"replay", "--mobile-key", "mob-headers-key-5555", "--sdk",
                                         "mobile", "--events-uri", upstream.url(), input.string()});
        INFO(result.err);
        REQUIRE(result.status == 0);
        const auto requests = upstream.requests();
        REQUIRE(requests.size() == 1);
        CHECK(requests[0].target == "/mobile");
        CHECK(requests[0].header("authorization") == "mob-headers-key-5555");
    }
    SECTION("js: client-side ID in the path, no Authorization") {
        const auto result = run_evrelay({"replay", "--env-id", "5f00aa11bb22cc33", "--sdk", "js",
                                         "--events-uri", upstream.url(), input.string()});
        INFO(result.err);
        REQUIRE(result.status == 0);
        const auto requests = upstream.requests();
        REQUIRE(requests.size() == 1);
        CHECK(requests[0].target == "/events/bulk/5f00aa11bb22cc33");
        CHECK(requests[0].headers.count("authorization") == 0);
        CHECK(events_of(requests[0].body) == events);
    }
}
