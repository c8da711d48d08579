// --payload-ids preserve re-sends each envelope whole with its recorded ID.
#include "harness.hpp"

#include <catch2/catch.hpp>

using namespace evrelay::test;

TEST_CASE("replay --payload-ids preserve keeps recorded IDs", "[replay]") {
    RecordingUpstream upstream;
    ScratchDir dir;
    const auto first = make_events(3, 0);
    const auto second = make_events(2, 10);
    const std::string id1 = "11111111-2222-4333-8444-555555555555";
    const std::string id2 = "66666666-7777-4888-9999-aaaaaaaaaaaa";
    const auto input =
        dir.write("capture.ndjson", capture_line("production", "server", 4, "", first, id1) +
                                        capture_line("production", "server", 4, "", second, id2));

    SECTION("preserve") {
        const auto result =
            run_evrelay({"replay", "--sdk-key", "sdk-integration-0001", "--events-uri",
                         upstream.url(), "--payload-ids", "preserve", input.string()});
        INFO(result.err);
        CHECK(result.status == 0);
        auto requests = upstream.requests();
        REQUIRE(requests.size() == 2);
        std::map<std::string, std::vector<std::string>> by_id;
        for (const auto& request : requests) {
            by_id[request.header("x-launchdarkly-payload-id")] = events_of(request.body);
        }
        CHECK(by_id[id1] == first);
        CHECK(by_id[id2] == second);
    }
    SECTION("new (default) re-batches with a new ID") {
        const auto result = run_evrelay({"replay", "--sdk-key", "sdk-integration-0001",
                                         "--events-uri", upstream.url(), input.string()});
        INFO(result.err);
        CHECK(result.status == 0);
        const auto requests = upstream.requests();
        REQUIRE(requests.size() == 1);
        CHECK(requests[0].header("x-launchdarkly-payload-id") != id1);
        CHECK(requests[0].header("x-launchdarkly-payload-id") != id2);
        CHECK(events_of(requests[0].body).size() == 5);
    }
}
