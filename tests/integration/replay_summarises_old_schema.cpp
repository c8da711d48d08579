// SPEC §8: replay summarises capture lines of schema 1–2 and lines marked "unsummarized" (a
// schema-4 post that carried X-LaunchDarkly-Unsummarized), as serve does; with --payload-ids
// preserve each such line is sent alone under its recorded ID, with its own summary.
#include "harness.hpp"
#include "summarise_support.hpp"

#include <catch2/catch.hpp>

using namespace evrelay::test;

namespace {

constexpr const char* k_sdk_key = "sdk-replay-summary-0007";

} // namespace

TEST_CASE("replay summarises old-schema and unsummarized capture lines", "[replay][summary]") {
    ScratchDir scratch;
    const auto flags = scratch.write("flags.json", summarise_flag_data());
    const auto capture = scratch.write("capture.ndjson", old_schema_capture());
    RecordingUpstream upstream;
    const RunResult result =
        run_evrelay({"replay", "--sdk-key", k_sdk_key, "--events-uri", upstream.url(), "--flags",
                     flags.string(), "--no-progress", capture.string()});
    INFO(result.err);
    REQUIRE(result.status == 0);
    const auto requests = upstream.requests();
    const UpstreamOutput out = read_upstream_output(requests);
    CHECK(out.unsummarized_headers == 0);
    CHECK(out.events_with_user == 0);
    CHECK(out.counters.at("plain") ==
          std::vector<SummaryCounter>{{"true", 0, 3, false, 1}, {"false", 1, 3, false, 1}});
    CHECK(out.feature_keys == std::vector<std::string>{"tracked"});
    CHECK(std::count(out.kinds.begin(), out.kinds.end(), "custom") == 1);
    // The schema-4 line went as it was, in a payload of its own schema.
    std::size_t schema4 = 0;
    for (const auto& request : requests) {
        schema4 += request.header("x-launchdarkly-event-schema") == "4" ? 1 : 0;
    }
    CHECK(schema4 == requests.size());
}

TEST_CASE("replay --payload-ids preserve sends each summarised line alone under its ID",
          "[replay][summary]") {
    ScratchDir scratch;
    const auto flags = scratch.write("flags.json", summarise_flag_data());
    const auto capture = scratch.write("capture.ndjson", old_schema_capture());
    RecordingUpstream upstream;
    const RunResult result = run_evrelay(
        {"replay", "--sdk-key", k_sdk_key, "--events-uri", upstream.url(), "--flags",
         flags.string(), "--payload-ids", "preserve", "--no-progress", capture.string()});
    INFO(result.err);
    REQUIRE(result.status == 0);
    std::map<std::string, UpstreamOutput> by_id;
    for (const auto& request : upstream.requests()) {
        by_id[request.header("x-launchdarkly-payload-id")] = read_upstream_output({request});
    }
    REQUIRE(by_id.size() == 3);
    const UpstreamOutput& php = by_id.at("11111111-1111-4111-8111-111111111111");
    CHECK(php.summaries == 1);
    CHECK(php.schemas == std::vector<std::string>{"4"});
    CHECK(php.counters.at("plain") == std::vector<SummaryCounter>{{"true", 0, 3, false, 1}});
    const UpstreamOutput& marked = by_id.at("22222222-2222-4222-8222-222222222222");
    CHECK(marked.summaries == 1);
    CHECK(marked.counters.at("plain") == std::vector<SummaryCounter>{{"false", 1, 3, false, 1}});
    CHECK(marked.index_keys == std::vector<std::string>{"o1"});
    CHECK(by_id.at("33333333-3333-4333-8333-333333333333").summaries == 0);
}
