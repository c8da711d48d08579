// Real SDK post bodies (tests/fixtures) replayed as arrays arrive byte for byte.
#include "harness.hpp"

#include <catch2/catch.hpp>

using namespace evrelay::test;

TEST_CASE("replay forwards real SDK payloads unchanged", "[replay]") {
    RecordingUpstream upstream;
    ScratchDir dir;
    std::vector<std::string> expected;
    std::string input_text;
    for (const auto* fixture :
         {"v9-analytics-tags.ndjson", "v9-analytics-gzip.ndjson", "legacy-analytics.ndjson"}) {
        for (const auto& body : fixture_bodies(fixture, "/bulk")) {
            if (body.front() != '[') {
                continue;
            }
            input_text += body + "\n";
            const auto events = events_of(body);
            expected.insert(expected.end(), events.begin(), events.end());
        }
    }
    REQUIRE(expected.size() > 20);
    const auto input = dir.write("bodies.json", input_text); // several arrays one after another
    const auto result = run_evrelay({"replay", "--sdk-key", "sdk-fixture-key-0123", "--events-uri",
                                     upstream.url(), input.string()});
    INFO(result.err);
    CHECK(result.status == 0);
    CHECK(all_events(upstream.requests()) == expected);
}

TEST_CASE("replay forwards a captured diagnostic event unchanged to the diagnostic path",
          "[replay]") {
    RecordingUpstream upstream;
    ScratchDir dir;
    const auto bodies = fixture_bodies("v9-diagnostic.ndjson", "/diagnostic");
    REQUIRE(!bodies.empty());
    const std::string line =
        R"({"v":1,"received":"2026-11-26T23:19:43.123Z","env":"production","sdk":"server","kind":"diagnostic","event":)" +
        bodies[0] + "}\n";
    const auto input = dir.write("capture.ndjson", line);
    const auto result = run_evrelay({"replay", "--sdk-key", "sdk-fixture-key-0123", "--events-uri",
                                     upstream.url(), "--no-gzip", input.string()});
    INFO(result.err);
    CHECK(result.status == 0);
    const auto requests = upstream.requests();
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].target == "/diagnostic");
    CHECK(requests[0].body == bodies[0]);
    CHECK(requests[0].headers.count("x-launchdarkly-payload-id") == 0);
    CHECK(requests[0].headers.count("x-launchdarkly-event-schema") == 0);
}
