#pragma once

#include "tests/support/recording_upstream.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace evrelay::test {

// What the summarisation tests (SPEC §8) post and what they read back upstream.

// Flag data (the SDKs' flag-data JSON) with: "plain" (version 3, [true,false]), "tracked"
// (version 7, ["red","green","blue"], trackEvents), "debugged" (version 9, [false,true],
// debugEventsUntilDate = now + `debug_for_ms`), "fallthrough" (version 5, [1,2],
// trackEventsFallthrough).
std::string summarise_flag_data(std::int64_t debug_for_ms = 3'600'000);

// A PHP-style schema-2 feature event: inline user, value, variation (< 0: left out), version
// (< 0: left out), default. `value` and `default_value` are JSON text.
std::string php_feature(const std::string& flag, const std::string& user_key,
                        const std::string& value, int variation, int version,
                        const std::string& default_value, const std::string& extra = "");
std::string php_custom(const std::string& metric, const std::string& user_key);
std::string php_identify(const std::string& user_key);

// A capture (evrelay-capture/1) of three posts to environment "default", server SDK:
// 11111111-…: a PHP schema-2 post ("plain" true, "tracked" green for u1, u2);
// 22222222-…: a schema-4 post marked unsummarized ("plain" false for org o1);
// 33333333-…: a schema-4 post as is (one custom event).
std::string old_schema_capture();

// One counter of a summary event.
struct SummaryCounter {
    std::string value; // compact JSON
    std::int64_t variation = -1;
    std::int64_t version = -1;
    bool unknown = false;
    std::int64_t count = 0;
    bool operator==(const SummaryCounter&) const = default;
};

// Everything the upstream received on analytics routes, taken apart.
struct UpstreamOutput {
    std::vector<std::string> kinds;        // of every event, in order
    std::vector<std::string> index_keys;   // context key of each index event
    std::vector<std::string> feature_keys; // flag key of each full feature event
    std::vector<std::string> debug_keys;   // flag key of each debug event
    std::map<std::string, std::vector<SummaryCounter>> counters;   // by flag, merged, by variation
    std::map<std::string, std::vector<std::string>> context_kinds; // by flag
    std::map<std::string, std::string> defaults;                   // by flag
    std::vector<std::string> schemas;     // X-LaunchDarkly-Event-Schema of each request
    std::size_t unsummarized_headers = 0; // requests carrying X-LaunchDarkly-Unsummarized
    std::size_t events_with_user = 0;     // events with an inline "user" (none may remain)
    std::size_t summaries = 0;
};
UpstreamOutput read_upstream_output(const std::vector<RecordedRequest>& requests);

} // namespace evrelay::test
