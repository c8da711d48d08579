// No FILE (or "-") reads standard input, gzip-compressed or not.
#include "harness.hpp"

#include "core/util/gzip.hpp"

#include <catch2/catch.hpp>

using namespace evrelay::test;

TEST_CASE("replay reads events from stdin", "[replay]") {
    RecordingUpstream upstream;
    const auto events = make_events(50);

    SECTION("plain NDJSON, no file argument") {
        const auto result = run_evrelay(
            {"replay", "--sdk-key", "sdk-integration-0001", "--events-uri", upstream.url()},
            as_ndjson(events));
        INFO(result.err);
        CHECK(result.status == 0);
        CHECK(all_events(upstream.requests()) == events);
    }
    SECTION("gzip-compressed array on -") {
        evrelay::util::GzipCompressor compressor(6);
        std::string compressed;
        compressor.compress(as_array(events), compressed);
        const auto result = run_evrelay(
            {"replay", "--sdk-key", "sdk-integration-0001", "--events-uri", upstream.url(), "-"},
            compressed);
        INFO(result.err);
        CHECK(result.status == 0);
        CHECK(all_events(upstream.requests()) == events);
    }
}
