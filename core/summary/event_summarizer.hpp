#pragma once

#include "core/flags/flag_data.hpp"
#include "core/json/json_document.hpp"
#include "core/summary/context_conversion.hpp"
#include "core/summary/context_key_lru.hpp"
#include "core/summary/summary_counters.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace evrelay {

struct SummarizerOptions {
    // go-sdk-events' DefaultUserKeysCapacity and DefaultUserKeysFlushInterval, which a
    // summarising Relay uses (SPEC §8).
    std::size_t context_keys_capacity = 1000;
    std::chrono::milliseconds context_keys_flush_interval = std::chrono::minutes(5);
};

// What add() did with the events it was given (each input event is counted once in `input`
// and once in one of the other input columns; the *_out columns count events produced).
struct SummarizeCounts {
    std::size_t input = 0;
    std::size_t summarised = 0;  // feature events counted into the summary
    std::size_t feature_out = 0; // full feature events produced (trackEvents …)
    std::size_t debug_out = 0;
    std::size_t index_out = 0;
    std::size_t kept = 0;              // custom, identify, index, alias, summary, migration_op kept
    std::size_t duplicate_index = 0;   // index events of contexts already indexed: dropped
    std::size_t passed_unreadable = 0; // not an object, no context, wrong types: unchanged
    std::size_t passed_unknown_kind = 0; // a kind it does not know: unchanged

    SummarizeCounts& operator+=(const SummarizeCounts& other);
};

// The summarising relay of one (environment, SDK kind, tags) queue (SPEC §8): turns the events
// of schema 1–2 posts and of posts marked X-LaunchDarkly-Unsummarized into schema-4 output, as
// ld-relay's eventSummarizingRelay does by feeding them through go-sdk-events' event processor
// (internal/events/summarizing-relay.go, oldevents/translate_events.go). Per input kind:
// - feature: counted into the summary; preceded by an index event when its context is new to
//   the LRU; followed by a full feature event (contextKeys, not the context) when tracked, and
//   by a debug event (the whole context) while debugging is on. See event_summarizer.cpp for how
//   version, variation, tracking and debugging are decided.
// - custom: kept (key, data, metricValue, contextKeys), after an index event for a new context.
// - identify: kept with its context, which becomes seen (no index event for it).
// - index (old SDKs sent them inline): kept, converted, when its context is new to the LRU,
//   which then remembers it; dropped when the context was indexed already, since the index
//   event sent then carries the same context. Relay forwards it raw beside its own index event.
// - alias, summary, migration_op: kept unchanged. alias has no context in any schema; a summary
//   in such a post was computed by its SDK, and adding it to ours would count twice what it
//   counts only once (a schema-2 PHP post has none; Relay forwards one raw too); migration_op
//   events are schema-4 events already (PHP 6 posts them Unsummarized).
// - any other kind, and events it cannot read: unchanged (never lose an accepted event; Relay
//   logs an error and drops an event it cannot read).
// Where the output differs from go-sdk-events' on purpose:
// - Feature and custom events name their context by contextKeys, as go-sdk-events v2 (ld-relay
//   v8, SPEC §8) writes them; v3 (ld-relay v9) and the Node SDK 9 write a feature event's whole
//   context instead (anonymous attributes redacted). The events service reads both, and the
//   index event before it carries the whole context either way.
// - Relay forwards an old user as it came ("preserialized"); here it becomes a context of kind
//   "user" (context_conversion.hpp), as schema 4 describes contexts.
// - Values are copied as written, compacted (2.50 stays 2.50; Go would re-encode it as 2.5).
// Output is compact JSON. Not thread-safe (SummaryHub locks).
class EventSummarizer {
  public:
    using TimePoint = std::chrono::system_clock::time_point;

    explicit EventSummarizer(SummarizerOptions options = {});

    // One input event (raw JSON object of a post of `schema_version`); appends the schema-4
    // events it becomes to `out`. `flags` may be null (no flag data yet). `now` also drives
    // the LRU's clearing (every context_keys_flush_interval, counted from the first add()).
    // `upstream_date`: the Date of the upstream's last response, if any (debugging stops when
    // either clock is past debugEventsUntilDate, as in the SDKs).
    void add(std::string_view event_json, int schema_version, const FlagData* flags, TimePoint now,
             std::optional<TimePoint> upstream_date, std::vector<std::string>& out,
             SummarizeCounts& counts);
    // The same for an event validated already: `event` is one of `validator`'s parts (an element
    // of a post's array), so that a post validated on the way in is not indexed a second time.
    void add(const JsonValidator& validator, const JsonPart& event, int schema_version,
             const FlagData* flags, TimePoint now, std::optional<TimePoint> upstream_date,
             std::vector<std::string>& out, SummarizeCounts& counts);

    // The summary event of all counted since the last call; nullopt when nothing was counted.
    std::optional<std::string> take_summary();
    bool has_pending_summary() const { return !m_summary.empty(); }

    std::size_t remembered_contexts() const { return m_seen.size(); }

  private:
    struct Fields;

    // Both add()s end here: `object` is one of m_validator's parts, or its root, and
    // `event_json` its text as given (what an event passed on unchanged is).
    void add_validated(std::string_view event_json, const JsonPart& object, int schema_version,
                       const FlagData* flags, TimePoint now, std::optional<TimePoint> upstream_date,
                       std::vector<std::string>& out, SummarizeCounts& counts);
    bool read_fields(Fields& fields);
    bool read_identity(Fields& fields);
    void append_context(const Fields& fields, std::string& out);
    bool is_experiment(const FlagInfo& flag, const JsonPart* reason);
    // false when the event is unreadable as a feature event (nothing was counted or output).
    bool add_feature(const Fields& fields, int schema_version, const FlagData* flags,
                     std::int64_t now_ms, std::optional<std::int64_t> upstream_ms,
                     std::vector<std::string>& out, SummarizeCounts& counts);
    void add_index_if_new(const Fields& fields, std::int64_t creation_date,
                          std::vector<std::string>& out, SummarizeCounts& counts);
    void clear_seen_when_due(TimePoint now);

    SummarizerOptions m_options;
    JsonDocument m_document; // the text of an event given as text
    // The validator of the event being added (m_document's, or the post's), and its members.
    const JsonValidator* m_validator = nullptr;
    std::vector<JsonPart> m_members;
    ContextConverter m_converter;
    ContextIdentity m_identity;
    ContextKeyLru m_seen;
    std::optional<TimePoint> m_seen_since;
    SummaryCounters m_summary;
    std::vector<JsonPart> m_scratch_parts;
    std::string m_scratch;
    std::string m_value_identity;
    std::string m_value_json;
    std::string m_default_json;
};

} // namespace evrelay
