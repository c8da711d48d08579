// SPEC §7, §8: flush summarises spool lines of schema 1–2 and lines marked unsummarized: a line
// sent alone keeps its payload ID and carries its own summary; re-batched lines
// (--payload-ids new) leave as one schema-4 payload with one summary.
#include "harness.hpp"
#include "summarise_support.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

using namespace evrelay::test;

namespace {

constexpr const char* k_sdk_key = "sdk-flush-summary-0008";

} // namespace

TEST_CASE("flush summarises old-schema spool lines", "[spool][flush][summary]") {
    ScratchDir scratch;
    const auto flags = scratch.write("flags.json", summarise_flag_data());
    const std::string spool = scratch.path().string() + "/spool";
    std::filesystem::create_directories(spool + "/incoming");
    {
        std::ofstream out(spool + "/incoming/capture.ndjson");
        out << old_schema_capture();
    }
    RecordingUpstream upstream;
    SECTION("each line alone, under its own ID") {
        const RunResult result =
            run_evrelay({"flush", spool, "--sdk-key", k_sdk_key, "--events-uri", upstream.url(),
                         "--flags", flags.string(), "--no-progress"});
        INFO(result.err);
        REQUIRE(result.status == 0);
        std::map<std::string, UpstreamOutput> by_id;
        for (const auto& request : upstream.requests()) {
            by_id[request.header("x-launchdarkly-payload-id")] = read_upstream_output({request});
        }
        REQUIRE(by_id.size() == 3);
        const UpstreamOutput& php = by_id.at("11111111-1111-4111-8111-111111111111");
        CHECK(php.schemas == std::vector<std::string>{"4"});
        CHECK(php.summaries == 1);
        CHECK(php.feature_keys == std::vector<std::string>{"tracked"});
        CHECK(php.events_with_user == 0);
        CHECK(by_id.at("22222222-2222-4222-8222-222222222222").counters.at("plain") ==
              std::vector<SummaryCounter>{{"false", 1, 3, false, 1}});
    }
    SECTION("re-batched: one schema-4 payload with one summary for both old-schema lines") {
        const RunResult result = run_evrelay({"flush", spool, "--sdk-key", k_sdk_key,
                                              "--events-uri", upstream.url(), "--flags",
                                              flags.string(), "--payload-ids", "new",
                                              "--no-progress"});
        INFO(result.err);
        REQUIRE(result.status == 0);
        const UpstreamOutput out = read_upstream_output(upstream.requests());
        CHECK(out.unsummarized_headers == 0);
        CHECK(out.events_with_user == 0);
        // The schema-2 line and the unsummarized line differ in metadata: each batch its own
        // summary; the counts add up to every evaluation once.
        CHECK(out.counters.at("plain") ==
              std::vector<SummaryCounter>{{"true", 0, 3, false, 1}, {"false", 1, 3, false, 1}});
        CHECK(out.feature_keys == std::vector<std::string>{"tracked"});
    }
    // Delivered: nothing left in the spool but its own bookkeeping.
    CHECK(std::filesystem::is_empty(spool + "/incoming"));
}
