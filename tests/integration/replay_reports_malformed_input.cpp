// A malformed line is reported with file, line and byte offset and skipped; --strict stops (65).
#include "harness.hpp"

#include <catch2/catch.hpp>

using namespace evrelay::test;

TEST_CASE("replay skips and reports a malformed line", "[replay]") {
    RecordingUpstream upstream;
    ScratchDir dir;
    const auto events = make_events(4);
    const std::string text = events[0] + "\n" + events[1] + "\n" + R"({"kind":"custom",)" + "\n" +
                             events[2] + "\n" + events[3] + "\n";
    const auto input = dir.write("events.ndjson", text);
    // The offset points into line 3, at the byte where the problem was found (its end here).
    const auto bad_offset =
        events[0].size() + events[1].size() + 2 + std::string(R"({"kind":"custom",)").size();

    SECTION("skipped, the rest delivered, exit 65") {
        const auto result = run_evrelay({"replay", "--sdk-key", "sdk-integration-0001",
                                         "--events-uri", upstream.url(), input.string()});
        INFO(result.err);
        CHECK(result.status == 65);
        CHECK_THAT(result.err, Catch::Contains(input.string() + ":3:"));
        CHECK_THAT(result.err, Catch::Contains("byte " + std::to_string(bad_offset)));
        CHECK(all_events(upstream.requests()) ==
              std::vector<std::string>{events[0], events[1], events[2], events[3]});
        CHECK_THAT(result.err, Catch::Contains("4 events read, 4 sent, 0 dropped, 1 malformed"));
    }
    SECTION("--strict stops at the first one; what was read before is still delivered") {
        const auto result = run_evrelay({"replay", "--strict", "--sdk-key", "sdk-integration-0001",
                                         "--events-uri", upstream.url(), input.string()});
        INFO(result.err);
        CHECK(result.status == 65);
        CHECK_THAT(result.err, Catch::Contains(input.string() + ":3:"));
        CHECK(all_events(upstream.requests()) == std::vector<std::string>{events[0], events[1]});
    }
}

TEST_CASE("replay rejects an element that is not an object", "[replay]") {
    RecordingUpstream upstream;
    ScratchDir dir;
    const auto events = make_events(2);
    const auto input = dir.write("body.json", "[" + events[0] + ",\n42,\n" + events[1] + "]");
    const auto result = run_evrelay({"replay", "--sdk-key", "sdk-integration-0001", "--events-uri",
                                     upstream.url(), input.string()});
    INFO(result.err);
    CHECK(result.status == 65);
    CHECK_THAT(result.err, Catch::Contains(input.string() + ":2:"));
    CHECK(all_events(upstream.requests()) == events);
}

TEST_CASE("replay reports an input it cannot open before sending anything", "[replay]") {
    RecordingUpstream upstream;
    ScratchDir dir;
    const auto good = dir.write("good.ndjson", as_ndjson(make_events(3)));
    const auto result =
        run_evrelay({"replay", "--sdk-key", "sdk-integration-0001", "--events-uri", upstream.url(),
                     good.string(), (dir / "missing.ndjson").string()});
    CHECK(result.status == 66);
    CHECK_THAT(result.err, Catch::Contains("missing.ndjson") && Catch::Contains("no such file"));
    CHECK(upstream.request_count() == 0);
}
