#pragma once

#include "core/summary/context_conversion.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace evrelay {

// One evaluation as the summary counts it.
struct CountedEvaluation {
    std::string_view flag_key;     // decoded
    std::string_view default_json; // compact JSON ("null" when the event had none)
    std::string_view value_json;   // compact JSON
    // When the variation is unknown, the counter is told apart by its value's canonical text
    // (json_canonical.hpp); empty when `variation` is set.
    std::string_view value_identity;
    std::optional<std::int64_t> variation;
    std::optional<std::int64_t> version; // none: the flag was unknown to the SDK
    std::int64_t creation_date = 0;      // Unix ms
};

// The counters of one summary event: per flag its default (the first event's), its counters
// and the kinds of the contexts that evaluated it, and the earliest and latest creationDate
// counted (SPEC §8; go-sdk-events' eventSummarizer). Not thread-safe.
//
// A counter is (variation, version) as in go-sdk-events, and its value is the first event's;
// where the variation is unknown (an unknown flag, an evaluation error, a schema-1 value found
// in no variation) the value is part of the counter too, so that two different defaults of an
// unknown flag are not reported as one value (the SDKs merge them: an SDK sees one caller's
// default at a time, a relay of many PHP processes does not).
class SummaryCounters {
  public:
    void count(const CountedEvaluation& evaluation, const ContextIdentity& context);
    bool empty() const { return m_flags.empty(); }
    // Appends the summary event of all counted, then forgets it all.
    void take_event(std::string& out);

  private:
    struct Counter {
        std::optional<std::int64_t> variation;
        std::optional<std::int64_t> version;
        std::string value_identity;
        std::string value_json;
        std::uint64_t count = 0;
    };
    struct FlagCounters {
        std::string key;
        std::string default_json;
        std::vector<Counter> counters;
        std::vector<std::string> context_kinds; // in the order first seen
    };
    struct KeyHash {
        // The standard library's name: lets the map find a string_view without a copy.
        using is_transparent = void; // NOLINT(readability-identifier-naming)
        std::size_t operator()(std::string_view key) const noexcept {
            return std::hash<std::string_view>{}(key);
        }
    };

    std::vector<FlagCounters> m_flags; // in the order first counted
    std::unordered_map<std::string, std::size_t, KeyHash, std::equal_to<>> m_index;
    std::int64_t m_start_date = 0;
    std::int64_t m_end_date = 0;
};

} // namespace evrelay
