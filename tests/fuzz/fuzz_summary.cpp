// The summariser of old-schema events (core/summary: EventSummarizer, PayloadSummarizer,
// ContextConverter, SummaryCounters, ContextKeyLru; SPEC §8) and the flag-data parser
// (core/flags) on any bytes:
//
//   byte 0   bits 0-1 the posts' schema: 1, 2, 3 or 4 (3 and 4 stand for posts marked
//            X-LaunchDarkly-Unsummarized); bit 2 no flag data yet (every flag is unknown);
//            bit 3 the upstream's last Date is an hour after evrelay's first clock; bit 4 an LRU of
//            2 contexts instead of 1,000 (evictions); bit 5 the clock moves 10 minutes between
//            posts (each post starts a new LRU interval)
//   then     flag data JSON up to a line "--events--" (no such line, or data parse_flag_data
//            refuses: the built-in k_flag_data), then the events, one a line (empty lines are
//            skipped), posts separated by a line "--post--"
//
// Each post goes through a PayloadSummarizer (as flush, a durable drain and replay use it) and,
// event by event, through an EventSummarizer with the same options, clock and flag data (as
// SummaryHub uses it), and through a third one that reads the post as serve's inbound handler
// hands it on — one JSON array validated once, each event read from that validation — when the
// post is a valid array of objects (each event's text otherwise). What must hold:
// - the PayloadSummarizer's output is the EventSummarizer's, followed by the post's summary;
//   nothing for an empty post; its counts are the sum of the per-event counts; the third
//   summariser's output is the same as the second's;
// - each input event is counted once in `input` and in exactly one input column, and its output
//   is what the columns say: an event the summariser cannot read, of a kind it does not know, or
//   an alias, summary or migration_op event comes out unchanged (never lost); a feature event is
//   either summarised or passed unchanged; an index event is kept or dropped as a duplicate;
// - every event it writes is a valid JSON object of the kind, order (index first, then the event,
//   then feature before debug), creationDate and context of its input: a context read back gives
//   the input's kinds and keys (a converted user is a valid schema-4 context; only an old user
//   with an empty key, which the SDKs accepted, gives an empty key), and so do contextKeys;
// - index events only for contexts that are new in the LRU's interval: while the interval has
//   seen no more contexts than the LRU holds, never twice for one; after a feature or custom
//   event its context has been indexed or identified in the interval; a dropped index event's
//   context had been;
// - a full feature event only when something asks for one (the event's trackEvents, the flag's
//   trackEvents, trackEventsFallthrough or a rule's trackEvents, an inExperiment reason), a
//   debug event only while a debugEventsUntilDate is later than both clocks; both carry the
//   input's key and version;
// - counts add up: the post's summary event has, per flag key, counters whose counts sum to the
//   feature events summarised with that key (excludeFromSummaries left out), no summary when
//   there are none; a counter has a version only for a flag in the flag data, and "unknown" has
//   no variation; contextKinds are the kinds of the contexts counted; startDate and endDate are
//   the earliest and latest creationDate counted (when all are after 1970: go-sdk-events takes
//   0 for "no start yet");
// - flag data that parse_flag_data accepts is consistent (a canonical form per variation, an id
//   per rule).

#include "tests/fuzz/fuzz_support.hpp"

#include "core/flags/flag_data.hpp"
#include "core/json/json_document.hpp"
#include "core/json/json_number.hpp"
#include "core/json/json_string.hpp"
#include "core/json/json_validator.hpp"
#include "core/model/payload.hpp"
#include "core/summary/context_conversion.hpp"
#include "core/summary/event_summarizer.hpp"
#include "core/summary/payload_summarizer.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using namespace evrelay;

namespace {

using TimePoint = std::chrono::system_clock::time_point;
using KindKeys = std::vector<std::pair<std::string, std::string>>; // sorted

constexpr std::string_view k_flags_end = "--events--\n";
constexpr std::string_view k_post_end = "--post--";
constexpr std::int64_t k_start_ms = 1796083200000; // 2026-12-01T00:00:00Z
const std::string k_env = "fuzz";

// Every way a flag asks for full or debug events, and variations of each JSON type (a schema-1
// event without variation is looked up among them). "debugged" debugs for 30 minutes.
constexpr std::string_view k_flag_data = R"({"flags":{
 "tracked":{"version":11,"variations":[true,false],"trackEvents":true},
 "fallthrough":{"version":7,"variations":["red","green",{"a":1,"b":[2]}],
   "trackEventsFallthrough":true,
   "rules":[{"id":"r-a","trackEvents":false},{"id":"r-b","trackEvents":true}]},
 "numbers":{"version":3,"variations":[1,2.5,null,"x",[1,2]]},
 "debugged":{"version":5,"variations":[0,1],"debugEventsUntilDate":1796085000000},
 "plain":{"version":1,"variations":["a","b"]}
},"segments":{"s":{}}})";

std::int64_t unix_ms(TimePoint time) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

std::string_view contents(const JsonPart& part) {
    return part.value.substr(1, part.value.size() - 2);
}

// The last member named `name` (as for any JSON object, and as the summariser reads it).
const JsonPart* member(const std::vector<JsonPart>& parts, std::string_view name) {
    const JsonPart* found = nullptr;
    for (const JsonPart& part : parts) {
        found = part.key == name ? &part : found;
    }
    return found;
}

bool is_null(const JsonPart* part) {
    return part == nullptr || part->type == JsonType::null;
}

std::optional<std::int64_t> integer(const JsonPart* part) {
    if (part == nullptr || part->type != JsonType::number) {
        return std::nullopt;
    }
    return json_number_as_int64(part->value);
}

KindKeys kind_keys(const ContextIdentity& identity) {
    KindKeys pairs;
    for (const ContextIdentity::KindKey& entry : identity) {
        pairs.emplace_back(entry.kind, entry.key);
    }
    std::sort(pairs.begin(), pairs.end());
    return pairs;
}

std::string describe(const KindKeys& pairs) {
    std::string text;
    for (const auto& [kind, key] : pairs) {
        text += kind + "=" + key + " ";
    }
    return text;
}

void check_flag_data(const FlagData& data) {
    for (const auto& [key, flag] : data.flags) {
        FUZZ_CHECK(flag.canonical_variations.size() == flag.variations.size(),
                   "flag \"" + key + "\": not one canonical form per variation");
        FUZZ_CHECK(flag.rule_ids.size() == flag.rule_track_events.size(),
                   "flag \"" + key + "\": not one id per rule");
        for (std::size_t i = 0; i < flag.variations.size(); ++i) {
            const std::optional<std::size_t> found =
                flag.variation_index_of(flag.canonical_variations[i]);
            FUZZ_CHECK(found && *found <= i, "flag \"" + key + "\": variation " +
                                                 flag.variations[i] + " is not found again");
        }
    }
}

// What an input event is, as the harness reads it (its own JsonDocument and ContextConverter).
struct Input {
    bool object = false;
    std::string_view kind;    // raw contents; empty when "kind" is not a string
    bool kind_string = false; // "kind" is a string
    std::string flag_key;     // decoded, when "key" is a string
    std::string_view key_raw; // "key" as written
    std::optional<std::int64_t> version;
    std::optional<std::int64_t> creation_date;
    std::optional<std::int64_t> debug_until;
    bool track_events = false;
    bool excluded = false;
    bool in_experiment = false;
    bool readable_context = false;
    bool legacy_user = false;
    KindKeys context;
    std::string lru_key;
};

// Summarised feature events of the post being checked.
struct Expected {
    std::map<std::string, std::uint64_t> counts;        // flag key → events counted
    std::map<std::string, std::set<std::string>> kinds; // flag key → context kinds
    std::vector<std::int64_t> dates;                    // creationDate counted
    std::uint64_t total() const {
        std::uint64_t sum = 0;
        for (const auto& [key, count] : counts) {
            sum += count;
        }
        return sum;
    }
};

class Checker {
  public:
    Checker(std::shared_ptr<const FlagData> flags, std::size_t capacity,
            std::optional<std::int64_t> upstream_ms)
        : m_flags(std::move(flags)), m_capacity(capacity), m_upstream_ms(upstream_ms) {}

    void new_interval() {
        m_seen.clear();
        m_exceeded = false;
    }

    // Checks what one input event became: `out` (what add() appended) and the counts' change.
    void check_event(std::string_view event, const std::vector<std::string>& out,
                     const SummarizeCounts& d, std::int64_t now_ms) {
        FUZZ_CHECK(d.input == 1, "an input event is not counted once in input");
        FUZZ_CHECK(d.summarised + d.kept + d.duplicate_index + d.passed_unreadable +
                           d.passed_unknown_kind ==
                       1,
                   "an input event is not in exactly one input column: " + std::string(event));
        FUZZ_CHECK(out.size() == d.kept + d.passed_unreadable + d.passed_unknown_kind +
                                     d.index_out + d.feature_out + d.debug_out,
                   "the output of an event is not what its counts say: " + std::string(event));
        const Input input = read_input(event);
        const bool unchanged = out.size() == 1 && out[0] == event;
        if (d.passed_unreadable + d.passed_unknown_kind == 1) {
            FUZZ_CHECK(unchanged, "an event passed on is changed: " + std::string(event));
        }
        if (!input.object || !input.kind_string) {
            FUZZ_CHECK(d.passed_unreadable == 1,
                       "an event that is no object with a string kind is not passed on "
                       "unchanged: " +
                           std::string(event));
            return;
        }
        const std::string_view kind = input.kind;
        if (kind == "alias" || kind == "summary" || kind == "migration_op") {
            FUZZ_CHECK(d.kept == 1 && unchanged,
                       "an alias, summary or migration_op event is not kept unchanged");
            return;
        }
        const bool known =
            kind == "feature" || kind == "custom" || kind == "identify" || kind == "index";
        FUZZ_CHECK(known || d.passed_unknown_kind == 1,
                   "an event of an unknown kind is not passed on: " + std::string(event));
        if (!known || d.passed_unreadable == 1) {
            return;
        }
        FUZZ_CHECK(input.readable_context,
                   "an event without a readable context is summarised: " + std::string(event));
        FUZZ_CHECK(kind == "feature" || d.summarised == 0, "a non-feature event is summarised");
        FUZZ_CHECK(kind == "index" || d.duplicate_index == 0,
                   "a non-index event is dropped as a duplicate index event");
        FUZZ_CHECK(kind != "feature" || d.summarised == 1, "a feature event is kept as it is");

        // The kinds written, in order: index events, the event itself, feature before debug.
        std::vector<std::string_view> expected_kinds(d.index_out, "index");
        if (kind != "feature" && d.kept == 1) {
            expected_kinds.push_back(kind);
        }
        expected_kinds.insert(expected_kinds.end(), d.feature_out, "feature");
        expected_kinds.insert(expected_kinds.end(), d.debug_out, "debug");
        FUZZ_CHECK(expected_kinds.size() == out.size(), "output size");
        for (std::size_t i = 0; i < out.size(); ++i) {
            check_output(out[i], expected_kinds[i], input, now_ms);
        }
        // The index events' LRU, in the interval.
        if (d.duplicate_index == 1) {
            FUZZ_CHECK(m_seen.contains(input.lru_key),
                       "an index event is dropped for a context never indexed: " +
                           std::string(event));
        }
        if (d.index_out == 1 || (kind == "index" && d.kept == 1)) {
            FUZZ_CHECK(m_exceeded || !m_seen.contains(input.lru_key),
                       "a second index event for a context in one interval: " + input.lru_key);
            m_seen.insert(input.lru_key);
        }
        if (kind == "identify") {
            m_seen.insert(input.lru_key);
        }
        m_exceeded = m_exceeded || m_seen.size() > m_capacity;
        FUZZ_CHECK(m_seen.contains(input.lru_key),
                   "an event's context was never indexed: " + std::string(event));

        if (kind == "feature") {
            if (!input.excluded) {
                ++m_expected.counts[input.flag_key];
                std::set<std::string>& kinds = m_expected.kinds[input.flag_key];
                for (const auto& [context_kind, key] : input.context) {
                    kinds.insert(context_kind);
                }
                m_expected.dates.push_back(input.creation_date.value_or(now_ms));
            }
            check_tracking(input, d, now_ms);
        }
    }

    // Checks the post's summary event (nullopt: there was none) and starts the next post.
    void check_summary(const std::optional<std::string>& summary) {
        const Expected expected = std::exchange(m_expected, {});
        if (expected.counts.empty()) {
            FUZZ_CHECK(!summary, "a summary event without a feature event counted");
            return;
        }
        FUZZ_CHECK(summary.has_value(), "no summary event for the feature events counted");
        FUZZ_CHECK(m_document.parse(*summary) && m_document.root_type() == JsonType::object,
                   "the summary event is no JSON object: " + *summary);
        const std::vector<JsonPart> parts = m_document.parts();
        const JsonPart* kind = member(parts, "kind");
        const std::optional<std::int64_t> start = integer(member(parts, "startDate"));
        const std::optional<std::int64_t> end = integer(member(parts, "endDate"));
        const JsonPart* features = member(parts, "features");
        FUZZ_CHECK(kind != nullptr && kind->value == "\"summary\"" && start && end &&
                       features != nullptr && features->type == JsonType::object,
                   "a summary event without its members: " + *summary);
        if (std::all_of(expected.dates.begin(), expected.dates.end(),
                        [](std::int64_t date) { return date > 0; })) {
            FUZZ_CHECK(*start == *std::min_element(expected.dates.begin(), expected.dates.end()) &&
                           *end == *std::max_element(expected.dates.begin(), expected.dates.end()),
                       "startDate and endDate are not the earliest and latest creationDate: " +
                           *summary);
        }
        std::vector<JsonPart> flags;
        m_document.parts_of(*features, flags);
        std::set<std::string> keys;
        for (const JsonPart& flag : flags) {
            const std::string key = json_string_value(flag.key);
            FUZZ_CHECK(keys.insert(key).second, "a flag twice in a summary: " + key);
            FUZZ_CHECK(expected.counts.contains(key), "a flag counted that no event named: " + key);
            check_flag_counters(flag, key, expected.counts.at(key), expected.kinds.at(key));
        }
        FUZZ_CHECK(keys.size() == expected.counts.size(),
                   "a flag of the feature events is missing from the summary: " + *summary);
    }

  private:
    Input read_input(std::string_view event) {
        Input input;
        if (!m_document.parse(event) || m_document.root_type() != JsonType::object) {
            return input;
        }
        input.object = true;
        const std::vector<JsonPart>& parts = m_document.parts();
        if (const JsonPart* kind = member(parts, "kind");
            kind != nullptr && kind->type == JsonType::string) {
            input.kind_string = true;
            input.kind = contents(*kind);
        }
        if (const JsonPart* key = member(parts, "key");
            key != nullptr && key->type == JsonType::string) {
            input.key_raw = key->value;
            input.flag_key = json_string_value(contents(*key));
        }
        input.version = integer(member(parts, "version"));
        input.creation_date = integer(member(parts, "creationDate"));
        input.debug_until = integer(member(parts, "debugEventsUntilDate"));
        const JsonPart* track = member(parts, "trackEvents");
        input.track_events = track != nullptr && track->value == "true";
        const JsonPart* excluded = member(parts, "excludeFromSummaries");
        input.excluded = excluded != nullptr && excluded->value == "true";
        if (const JsonPart* reason = member(parts, "reason");
            reason != nullptr && reason->type == JsonType::object) {
            std::vector<JsonPart> members;
            m_document.parts_of(*reason, members);
            input.in_experiment = std::any_of(members.begin(), members.end(), [](const auto& m) {
                return m.key == "inExperiment" && m.value == "true";
            });
        }
        const JsonPart* context = member(parts, "context");
        if (is_null(context)) {
            context = member(parts, "user");
        }
        if (!is_null(context)) {
            const auto shape = m_converter.read(m_document.validator(), *context, m_identity);
            if (shape) {
                input.readable_context = true;
                input.legacy_user = *shape == ContextConverter::Shape::legacy_user;
                input.context = kind_keys(m_identity);
                input.lru_key = m_identity.lru_key();
            }
        }
        return input;
    }

    void check_output(const std::string& text, std::string_view kind, const Input& input,
                      std::int64_t now_ms) {
        FUZZ_CHECK(m_output.parse(text) && m_output.root_type() == JsonType::object,
                   "an event written is no JSON object: " + text);
        const std::vector<JsonPart>& parts = m_output.parts();
        const JsonPart* written_kind = member(parts, "kind");
        FUZZ_CHECK(written_kind != nullptr && written_kind->type == JsonType::string &&
                       contents(*written_kind) == kind,
                   "an event of kind " + std::string(kind) + " expected, got: " + text);
        FUZZ_CHECK(integer(member(parts, "creationDate")) == input.creation_date.value_or(now_ms),
                   "an event written is not dated as its input: " + text);
        if (kind == "index" || kind == "identify" || kind == "debug") {
            const JsonPart* context = member(parts, "context");
            FUZZ_CHECK(context != nullptr, "an event written without its context: " + text);
            const auto shape = m_output_converter.read(m_output.validator(), *context, m_identity);
            if (!shape && input.legacy_user && input.context.size() == 1 &&
                input.context[0].second.empty()) {
                return; // an old user with an empty key, as the SDKs convert it
            }
            FUZZ_CHECK(shape == ContextConverter::Shape::context,
                       "a context written is not a schema-4 context: " + text);
            FUZZ_CHECK(kind_keys(m_identity) == input.context,
                       "a context written is not its input's: " + text + " vs " +
                           describe(input.context));
        } else {
            const JsonPart* keys = member(parts, "contextKeys");
            FUZZ_CHECK(keys != nullptr && keys->type == JsonType::object,
                       "an event written without its contextKeys: " + text);
            std::vector<JsonPart> members;
            m_output.parts_of(*keys, members);
            KindKeys pairs;
            for (const JsonPart& entry : members) {
                FUZZ_CHECK(entry.type == JsonType::string, "a context key is no string: " + text);
                pairs.emplace_back(json_string_value(entry.key),
                                   json_string_value(contents(entry)));
            }
            std::sort(pairs.begin(), pairs.end());
            FUZZ_CHECK(pairs == input.context, "the contextKeys written are not the input's: " +
                                                   text + " vs " + describe(input.context));
        }
        if (kind == "feature" || kind == "debug" || kind == "custom") {
            const JsonPart* key = member(parts, "key");
            FUZZ_CHECK(key != nullptr && key->value == input.key_raw,
                       "an event written has not its input's key: " + text);
        }
        if (kind == "feature" || kind == "debug") {
            FUZZ_CHECK(integer(member(parts, "version")) == input.version,
                       "an event written has not its input's version: " + text);
        }
    }

    void check_tracking(const Input& input, const SummarizeCounts& d, std::int64_t now_ms) {
        const FlagInfo* flag = m_flags ? m_flags->find(input.flag_key) : nullptr;
        if (d.feature_out == 1) {
            const bool asked =
                input.track_events || input.in_experiment ||
                (flag != nullptr &&
                 (flag->track_events || flag->track_events_fallthrough ||
                  std::find(flag->rule_track_events.begin(), flag->rule_track_events.end(), true) !=
                      flag->rule_track_events.end()));
            FUZZ_CHECK(asked, "a full feature event nothing asked for: flag " + input.flag_key);
        }
        if (d.debug_out == 1) {
            auto debugging = [&](std::optional<std::int64_t> until) {
                return until && *until > now_ms && (!m_upstream_ms || *until > *m_upstream_ms);
            };
            FUZZ_CHECK(debugging(input.debug_until) ||
                           (flag != nullptr && debugging(flag->debug_events_until_date)),
                       "a debug event while no debugEventsUntilDate is ahead of both clocks");
        }
    }

    void check_flag_counters(const JsonPart& flag, const std::string& key, std::uint64_t expected,
                             const std::set<std::string>& expected_kinds) {
        FUZZ_CHECK(flag.type == JsonType::object, "a summary's flag is no object: " + key);
        std::vector<JsonPart> members;
        m_document.parts_of(flag, members);
        const JsonPart* counters = member(members, "counters");
        const JsonPart* kinds = member(members, "contextKinds");
        FUZZ_CHECK(member(members, "default") != nullptr && counters != nullptr &&
                       counters->type == JsonType::array && kinds != nullptr &&
                       kinds->type == JsonType::array,
                   "a summary's flag without default, counters or contextKinds: " + key);
        std::vector<JsonPart> list;
        m_document.parts_of(*counters, list);
        std::uint64_t sum = 0;
        std::vector<JsonPart> fields;
        for (const JsonPart& counter : list) {
            FUZZ_CHECK(counter.type == JsonType::object, "a counter is no object: " + key);
            fields.clear();
            m_document.parts_of(counter, fields);
            const std::optional<std::int64_t> count = integer(member(fields, "count"));
            const JsonPart* unknown = member(fields, "unknown");
            const bool has_version = integer(member(fields, "version")).has_value();
            FUZZ_CHECK(count && *count >= 1, "a counter without a count of at least 1: " + key);
            FUZZ_CHECK(member(fields, "value") != nullptr, "a counter without a value: " + key);
            FUZZ_CHECK(has_version != (unknown != nullptr && unknown->value == "true"),
                       "a counter has not either a version or unknown:true: " + key);
            FUZZ_CHECK(!has_version || (m_flags && m_flags->find(key) != nullptr),
                       "a counter with a version for a flag not in the flag data: " + key);
            FUZZ_CHECK(has_version || member(fields, "variation") == nullptr,
                       "an unknown counter with a variation: " + key);
            sum += static_cast<std::uint64_t>(*count);
        }
        FUZZ_CHECK(sum == expected, "the counters of flag " + key + " count " +
                                        std::to_string(sum) + " events, not " +
                                        std::to_string(expected));
        list.clear();
        m_document.parts_of(*kinds, list);
        std::set<std::string> written;
        for (const JsonPart& kind : list) {
            FUZZ_CHECK(kind.type == JsonType::string, "a context kind is no string: " + key);
            FUZZ_CHECK(written.insert(json_string_value(contents(kind))).second,
                       "a context kind twice: " + key);
        }
        FUZZ_CHECK(written == expected_kinds, "contextKinds are not the counted contexts' kinds");
    }

    std::shared_ptr<const FlagData> m_flags;
    std::size_t m_capacity;
    std::optional<std::int64_t> m_upstream_ms;
    std::set<std::string> m_seen; // LRU keys indexed or identified in the interval
    bool m_exceeded = false;      // the interval saw more contexts than the LRU holds
    Expected m_expected;
    JsonDocument m_document;
    JsonDocument m_output;
    ContextConverter m_converter;
    ContextConverter m_output_converter;
    ContextIdentity m_identity;
};

bool same_counts(const SummarizeCounts& a, const SummarizeCounts& b) {
    return a.input == b.input && a.summarised == b.summarised && a.feature_out == b.feature_out &&
           a.debug_out == b.debug_out && a.index_out == b.index_out && a.kept == b.kept &&
           a.duplicate_index == b.duplicate_index && a.passed_unreadable == b.passed_unreadable &&
           a.passed_unknown_kind == b.passed_unknown_kind;
}

SummarizeCounts difference(const SummarizeCounts& after, const SummarizeCounts& before) {
    SummarizeCounts d;
    d.input = after.input - before.input;
    d.summarised = after.summarised - before.summarised;
    d.feature_out = after.feature_out - before.feature_out;
    d.debug_out = after.debug_out - before.debug_out;
    d.index_out = after.index_out - before.index_out;
    d.kept = after.kept - before.kept;
    d.duplicate_index = after.duplicate_index - before.duplicate_index;
    d.passed_unreadable = after.passed_unreadable - before.passed_unreadable;
    d.passed_unknown_kind = after.passed_unknown_kind - before.passed_unknown_kind;
    return d;
}

// The posts of the input: each a list of events (views into the input).
std::vector<std::vector<std::string_view>> posts_of(std::string_view events) {
    std::vector<std::vector<std::string_view>> posts(1);
    while (!events.empty()) {
        const std::string_view line = fuzz::take_until(events, "\n");
        if (line == k_post_end) {
            posts.emplace_back();
        } else if (!line.empty()) {
            posts.back().push_back(line);
        }
    }
    return posts;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const bool quiet = (fuzz::quiet_logs(), true);
    (void)quiet;
    static const std::shared_ptr<const FlagData> built_in =
        std::make_shared<const FlagData>(parse_flag_data(k_flag_data).value());
    if (size == 0) {
        return 0;
    }
    const std::uint8_t control = data[0];
    std::string_view rest = fuzz::as_text(data + 1, size - 1);
    const int schema = 1 + (control & 3);
    const bool no_flag_data = (control & 4) != 0;
    const std::size_t capacity = (control & 16) != 0 ? 2 : 1000;
    const std::chrono::minutes step((control & 32) != 0 ? 10 : 0);

    std::shared_ptr<const FlagData> flags = built_in;
    if (rest.find(k_flags_end) != std::string_view::npos) {
        Result<FlagData> parsed = parse_flag_data(fuzz::take_until(rest, k_flags_end));
        if (parsed) {
            check_flag_data(*parsed);
            flags = std::make_shared<const FlagData>(std::move(*parsed));
        }
    }
    if (no_flag_data) {
        flags = nullptr;
    }

    TimePoint now{std::chrono::milliseconds(k_start_ms)};
    const std::optional<TimePoint> upstream_date =
        (control & 8) != 0 ? std::optional(now + std::chrono::hours(1)) : std::nullopt;
    const SummarizerOptions options{capacity, std::chrono::minutes(5)};
    PayloadSummarizer payloads([&](const std::string&) { return flags; },
                               [&] { return upstream_date; }, options, [&] { return now; });
    EventSummarizer events(options);
    EventSummarizer from_validation(options);
    JsonValidator post_validator;
    std::string post_text; // the post as one array, then padding
    Checker checker(flags, capacity,
                    upstream_date ? std::optional(unix_ms(*upstream_date)) : std::nullopt);
    const PayloadMetadata metadata{schema, "", schema > 2};

    SummarizeCounts counts;
    std::uint64_t summaries = 0;
    bool first = true;
    for (const std::vector<std::string_view>& post : posts_of(rest)) {
        if (!first && step.count() > 0) {
            now += step;
            checker.new_interval();
        }
        first = false;
        const std::vector<std::string> from_payloads =
            payloads.summarize(k_env, SdkKind::server, metadata, post);
        std::vector<std::string> from_events;
        for (const std::string_view event : post) {
            const std::size_t before_size = from_events.size();
            const SummarizeCounts before = counts;
            events.add(event, schema, flags.get(), now, upstream_date, from_events, counts);
            const std::vector<std::string> out(
                from_events.begin() + static_cast<std::ptrdiff_t>(before_size), from_events.end());
            checker.check_event(event, out, difference(counts, before), unix_ms(now));
        }
        // The post as one array, validated once (as the inbound handler validates a body).
        post_text = join_events(post);
        const std::size_t post_size = post_text.size();
        post_text.append(k_json_padding, ' ');
        const bool validated =
            post_validator.validate(post_text.data(),
                                    std::string_view(post_text.data(), post_size)) &&
            post_validator.root_type() == JsonType::array &&
            post_validator.parts().size() == post.size() &&
            std::equal(post.begin(), post.end(), post_validator.parts().begin(),
                       [](std::string_view line, const JsonPart& part) {
                           // Each part is its own line (no line ends inside another's value),
                           // an object, as the splitter lets through, without spaces around it,
                           // as the splitter's views are.
                           return part.type == JsonType::object && part.value == line;
                       });
        std::vector<std::string> from_parts;
        SummarizeCounts unused;
        for (std::size_t i = 0; i < post.size(); ++i) {
            if (validated) {
                from_validation.add(post_validator, post_validator.parts()[i], schema, flags.get(),
                                    now, upstream_date, from_parts, unused);
            } else {
                from_validation.add(post[i], schema, flags.get(), now, upstream_date, from_parts,
                                    unused);
            }
        }
        FUZZ_CHECK(from_parts == from_events,
                   "an EventSummarizer reading the post's validation writes other events than one "
                   "reading each event's text");
        const std::optional<std::string> summary = events.take_summary();
        FUZZ_CHECK(from_validation.take_summary() == summary,
                   "an EventSummarizer reading the post's validation writes another summary");
        checker.check_summary(summary);
        if (summary) {
            from_events.push_back(*summary);
            ++summaries;
        }
        FUZZ_CHECK(!post.empty() || from_payloads.empty(), "output for an empty post");
        FUZZ_CHECK(from_payloads == from_events,
                   "PayloadSummarizer's output is not the EventSummarizer's and the summary");
    }
    const auto totals = payloads.counts();
    if (counts.input > 0) {
        FUZZ_CHECK(totals.size() == 1 && same_counts(totals.at(k_env).events, counts) &&
                       totals.at(k_env).summaries == summaries,
                   "PayloadSummarizer's counts are not the sum of the events'");
    }
    return 0;
}
