#pragma once

#include "core/util/error.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace evrelay {

// What the summariser needs of one flag (SPEC §8), from the SDKs' flag data.
struct FlagInfo {
    std::int64_t version = 0;
    std::vector<std::string> variations; // each variation's value as compact JSON text
    bool track_events = false;
    bool track_events_fallthrough = false;
    std::vector<bool> rule_track_events;                 // rules[i].trackEvents
    std::vector<std::string> rule_ids;                   // rules[i].id ("" when absent)
    std::optional<std::int64_t> debug_events_until_date; // Unix ms

    // canonical_variations[i]: variations[i] in canonical form (core/json/json_canonical.hpp),
    // filled by parse_flag_data so that looking a value up costs no parsing. A FlagInfo built
    // by hand may leave it empty: variation_index_of() then canonicalises as it goes.
    std::vector<std::string> canonical_variations;

    // The index of the first variation equal in meaning to the value whose canonical text is
    // `canonical_value` (1 equals 1.0; member order does not matter); nullopt when none is.
    std::optional<std::size_t> variation_index_of(std::string_view canonical_value) const;
    // The index of rule `rule_id` when given (not empty) and found, else `rule_index` when it is
    // a rule's index; nullopt when neither names a rule. (An SDK's reason carries both; the id
    // stays right when rules were inserted since the evaluation.)
    std::optional<std::size_t> rule_index_of(std::optional<std::int64_t> rule_index,
                                             std::string_view rule_id) const;
};

// The flag-data JSON of the SDKs' file data source and of GET /sdk/latest-all:
// {"flags":{key:{…}},"segments":{…}} (either member may be missing; other members are ignored).
// "flagValues" {key: value}, the file data source's shorthand, is accepted as it accepts it: a
// flag with that one variation, version 1, no event tracking. A key in both "flags" and
// "flagValues" is refused, as the file data source refuses a key defined twice. Of a flag only
// the members FlagInfo holds are read (a missing one is its default: version 0, no variations,
// false, no rules, no debug date); one of the wrong type is refused. JSON only: the file data
// source also reads YAML, evrelay does not.
struct FlagData {
    std::unordered_map<std::string, FlagInfo> flags;
    std::size_t segment_count = 0;
    const FlagInfo* find(std::string_view key) const;

    // Out of line: GCC 12 inlines a moved-from map's reset into ~Result<FlagData> and then warns
    // (-Wfree-nonheap-object, a false positive that -Werror turns into a failed build) wherever
    // a FlagData is moved out of a Result and the Result destroyed.
    FlagData();
    ~FlagData();
    FlagData(const FlagData&);
    FlagData(FlagData&&) noexcept;
    FlagData& operator=(const FlagData&);
    FlagData& operator=(FlagData&&) noexcept;
};

// Parses flag data; the error names what is wrong and where: "at byte N: …", with the flag key
// when it is about one flag.
Result<FlagData> parse_flag_data(std::string_view json);

} // namespace evrelay
