// 413: halves are re-sent with new payload IDs until every event is delivered.
#include "harness.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

using namespace evrelay::test;

TEST_CASE("replay splits a payload answered 413", "[replay]") {
    RecordingUpstream upstream;
    upstream.set_max_body_bytes(6000);
    ScratchDir dir;
    const auto events = make_events(100);
    const auto input = dir.write("events.ndjson", as_ndjson(events));

    const auto result = run_evrelay({"replay", "--sdk-key", "sdk-integration-0001", "--events-uri",
                                     upstream.url(), input.string()});
    INFO(result.err);
    CHECK(result.status == 0);
    std::vector<RecordedRequest> accepted;
    std::set<std::string> ids;
    for (const auto& request : upstream.requests()) {
        ids.insert(request.header("x-launchdarkly-payload-id"));
        if (request.status == 202) {
            accepted.push_back(request);
            CHECK(request.body.size() <= 6000);
        }
    }
    CHECK(ids.size() == upstream.request_count()); // every attempt is a new payload
    auto received = all_events(accepted);
    auto expected = events;
    std::sort(received.begin(), received.end());
    std::sort(expected.begin(), expected.end());
    CHECK(received == expected);
}

TEST_CASE("replay drops a single event that is still too large", "[replay]") {
    RecordingUpstream upstream;
    upstream.set_max_body_bytes(150);
    ScratchDir dir;
    const std::string big =
        R"({"kind":"custom","key":"big","data":")" + std::string(400, 'x') + R"("})";
    const std::string small = R"({"kind":"custom","key":"s"})";
    const auto input = dir.write("events.ndjson", small + "\n" + big + "\n" + small + "\n");
    const auto result = run_evrelay({"replay", "--sdk-key", "sdk-integration-0001", "--events-uri",
                                     upstream.url(), input.string()});
    INFO(result.err);
    // Retrying cannot help an event the upstream will never take: it is bad input data.
    CHECK(result.status == 65);
    CHECK_THAT(result.err, Catch::Contains("2 sent, 1 dropped"));
}
