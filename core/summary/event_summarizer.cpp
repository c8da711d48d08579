#include "core/summary/event_summarizer.hpp"

#include "core/json/json_canonical.hpp"
#include "core/json/json_number.hpp"
#include "core/json/json_scan.hpp"
#include "core/json/json_string.hpp"

#include <charconv>

namespace evrelay {

namespace {

std::int64_t unix_ms(std::chrono::system_clock::time_point time) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

void append_integer(std::string& out, std::int64_t value) {
    char text[24];
    const auto result = std::to_chars(text, text + sizeof text, value);
    out.append(text, result.ptr);
}

bool is_null(const JsonPart* part) {
    return part == nullptr || part->type == JsonType::null;
}

// A member that must be a whole number when present: false when it is something else.
bool read_integer(const JsonPart* part, std::optional<std::int64_t>& out) {
    out.reset();
    if (is_null(part)) {
        return true;
    }
    if (part->type != JsonType::number) {
        return false;
    }
    out = json_number_as_int64(part->value);
    return out.has_value();
}

// A member that must be a boolean when present: false when it is something else.
bool read_boolean(const JsonPart* part, std::optional<bool>& out) {
    out.reset();
    if (is_null(part)) {
        return true;
    }
    if (part->type != JsonType::boolean) {
        return false;
    }
    out = part->value == "true";
    return true;
}

bool is_string_or_null(const JsonPart* part) {
    return is_null(part) || part->type == JsonType::string;
}

std::string_view contents(const JsonPart& part) {
    return part.value.substr(1, part.value.size() - 2);
}

} // namespace

SummarizeCounts& SummarizeCounts::operator+=(const SummarizeCounts& other) {
    input += other.input;
    summarised += other.summarised;
    feature_out += other.feature_out;
    debug_out += other.debug_out;
    index_out += other.index_out;
    kept += other.kept;
    duplicate_index += other.duplicate_index;
    passed_unreadable += other.passed_unreadable;
    passed_unknown_kind += other.passed_unknown_kind;
    return *this;
}

// The members of an input event that the summariser reads (null when absent).
struct EventSummarizer::Fields {
    std::string_view kind; // as written (kinds are plain ASCII)
    const JsonPart* creation_date = nullptr;
    const JsonPart* key = nullptr;
    const JsonPart* user = nullptr;
    const JsonPart* context = nullptr;
    const JsonPart* value = nullptr;
    const JsonPart* default_value = nullptr;
    const JsonPart* version = nullptr;
    const JsonPart* variation = nullptr;
    const JsonPart* reason = nullptr;
    const JsonPart* prereq_of = nullptr;
    const JsonPart* track_events = nullptr;
    const JsonPart* debug_events_until_date = nullptr;
    const JsonPart* data = nullptr;
    const JsonPart* metric_value = nullptr;
    const JsonPart* exclude_from_summaries = nullptr;
    // Filled by read_identity(): the member holding the context, and how it is written.
    const JsonPart* context_object = nullptr;
    ContextConverter::Shape shape = ContextConverter::Shape::context;
    std::int64_t creation_ms = 0; // creationDate, or now when the event has none
};

EventSummarizer::EventSummarizer(SummarizerOptions options)
    : m_options(options), m_seen(options.context_keys_capacity) {}

bool EventSummarizer::read_fields(Fields& fields) {
    const JsonPart* kind = nullptr;
    for (const JsonPart& part : m_members) {
        const std::string_view name = part.key;
        // Dispatch on the length first: one comparison per member instead of sixteen.
        switch (name.size()) {
        case 3:
            fields.key = name == "key" ? &part : fields.key;
            break;
        case 4:
            if (name == "kind") {
                kind = &part;
            } else if (name == "user") {
                fields.user = &part;
            } else if (name == "data") {
                fields.data = &part;
            }
            break;
        case 5:
            fields.value = name == "value" ? &part : fields.value;
            break;
        case 6:
            fields.reason = name == "reason" ? &part : fields.reason;
            break;
        case 7:
            if (name == "context") {
                fields.context = &part;
            } else if (name == "version") {
                fields.version = &part;
            } else if (name == "default") {
                fields.default_value = &part;
            }
            break;
        case 8:
            fields.prereq_of = name == "prereqOf" ? &part : fields.prereq_of;
            break;
        case 9:
            fields.variation = name == "variation" ? &part : fields.variation;
            break;
        case 11:
            if (name == "trackEvents") {
                fields.track_events = &part;
            } else if (name == "metricValue") {
                fields.metric_value = &part;
            }
            break;
        case 12:
            fields.creation_date = name == "creationDate" ? &part : fields.creation_date;
            break;
        case 20:
            if (name == "debugEventsUntilDate") {
                fields.debug_events_until_date = &part;
            } else if (name == "excludeFromSummaries") {
                fields.exclude_from_summaries = &part;
            }
            break;
        default:
            break;
        }
    }
    if (kind == nullptr || kind->type != JsonType::string) {
        return false;
    }
    fields.kind = contents(*kind);
    return true;
}

bool EventSummarizer::read_identity(Fields& fields) {
    // Relay's contextOrUser: `context` when present, else `user`.
    fields.context_object = !is_null(fields.context) ? fields.context : fields.user;
    if (is_null(fields.context_object)) {
        return false;
    }
    const std::optional<ContextConverter::Shape> shape =
        m_converter.read(*m_validator, *fields.context_object, m_identity);
    if (!shape) {
        return false;
    }
    fields.shape = *shape;
    return true;
}

void EventSummarizer::append_context(const Fields& fields, std::string& out) {
    m_converter.append_context(*m_validator, *fields.context_object, fields.shape, out);
}

void EventSummarizer::clear_seen_when_due(TimePoint now) {
    // As go-sdk-events' ticker: the LRU is emptied every interval, whatever it holds. A clock
    // set back starts a new interval.
    if (!m_seen_since || now < *m_seen_since ||
        now - *m_seen_since >= m_options.context_keys_flush_interval) {
        if (m_seen_since) {
            m_seen.clear();
        }
        m_seen_since = now;
    }
}

void EventSummarizer::add(std::string_view event_json, int schema_version, const FlagData* flags,
                          TimePoint now, std::optional<TimePoint> upstream_date,
                          std::vector<std::string>& out, SummarizeCounts& counts) {
    if (!m_document.parse(event_json) || m_document.root_type() != JsonType::object) {
        ++counts.input;
        out.emplace_back(event_json);
        ++counts.passed_unreadable;
        return;
    }
    m_validator = &m_document.validator();
    add_validated(event_json, m_document.validator().root_part(), schema_version, flags, now,
                  upstream_date, out, counts);
}

void EventSummarizer::add(const JsonValidator& validator, const JsonPart& event, int schema_version,
                          const FlagData* flags, TimePoint now,
                          std::optional<TimePoint> upstream_date, std::vector<std::string>& out,
                          SummarizeCounts& counts) {
    m_validator = &validator;
    add_validated(event.value, event, schema_version, flags, now, upstream_date, out, counts);
}

void EventSummarizer::add_validated(std::string_view event_json, const JsonPart& object,
                                    int schema_version, const FlagData* flags, TimePoint now,
                                    std::optional<TimePoint> upstream_date,
                                    std::vector<std::string>& out, SummarizeCounts& counts) {
    ++counts.input;
    auto pass_unchanged = [&](std::size_t& column) {
        out.emplace_back(event_json);
        ++column;
    };
    if (object.type != JsonType::object) {
        pass_unchanged(counts.passed_unreadable);
        return;
    }
    m_members.clear();
    m_validator->parts_of(object, m_members);
    Fields fields;
    if (!read_fields(fields)) {
        pass_unchanged(counts.passed_unreadable);
        return;
    }
    const std::string_view kind = fields.kind;
    if (kind == "alias" || kind == "summary" || kind == "migration_op") {
        pass_unchanged(counts.kept);
        return;
    }
    if (kind != "feature" && kind != "custom" && kind != "identify" && kind != "index") {
        pass_unchanged(counts.passed_unknown_kind);
        return;
    }
    std::optional<std::int64_t> creation_date;
    if (!read_integer(fields.creation_date, creation_date) || !read_identity(fields)) {
        pass_unchanged(counts.passed_unreadable);
        return;
    }
    // go-sdk-events would date an undated event 0, which would also zero the summary's
    // startDate; the time it arrives is the closest truth.
    const std::int64_t now_ms = unix_ms(now);
    fields.creation_ms = creation_date.value_or(now_ms);
    clear_seen_when_due(now);

    if (kind == "feature") {
        const std::optional<std::int64_t> upstream_ms =
            upstream_date ? std::optional(unix_ms(*upstream_date)) : std::nullopt;
        if (!add_feature(fields, schema_version, flags, now_ms, upstream_ms, out, counts)) {
            pass_unchanged(counts.passed_unreadable);
        }
        return;
    }
    if (kind == "identify") {
        // The identify event carries the whole context: no index event is needed for it.
        m_seen.add(m_identity.lru_key());
        std::string& event = out.emplace_back(R"({"kind":"identify","creationDate":)");
        append_integer(event, fields.creation_ms);
        event += R"(,"context":)";
        append_context(fields, event);
        event += '}';
        ++counts.kept;
        return;
    }
    if (kind == "index") {
        if (m_seen.add(m_identity.lru_key())) {
            ++counts.duplicate_index;
            return;
        }
        std::string& event = out.emplace_back(R"({"kind":"index","creationDate":)");
        append_integer(event, fields.creation_ms);
        event += R"(,"context":)";
        append_context(fields, event);
        event += '}';
        ++counts.kept;
        return;
    }
    // custom
    if (fields.key == nullptr || fields.key->type != JsonType::string ||
        (!is_null(fields.metric_value) && fields.metric_value->type != JsonType::number)) {
        pass_unchanged(counts.passed_unreadable);
        return;
    }
    add_index_if_new(fields, fields.creation_ms, out, counts);
    std::string& event = out.emplace_back(R"({"kind":"custom","creationDate":)");
    append_integer(event, fields.creation_ms);
    event += R"(,"key":)";
    event += fields.key->value;
    if (!is_null(fields.data)) {
        event += R"(,"data":)";
        append_compact_json(event, fields.data->value);
    }
    event += R"(,"contextKeys":)";
    append_context_keys(m_identity, event);
    if (!is_null(fields.metric_value)) {
        event += R"(,"metricValue":)";
        event += fields.metric_value->value;
    }
    event += '}';
    ++counts.kept;
}

void EventSummarizer::add_index_if_new(const Fields& fields, std::int64_t creation_date,
                                       std::vector<std::string>& out, SummarizeCounts& counts) {
    if (m_seen.add(m_identity.lru_key())) {
        return;
    }
    std::string& event = out.emplace_back(R"({"kind":"index","creationDate":)");
    append_integer(event, creation_date);
    event += R"(,"context":)";
    append_context(fields, event);
    event += '}';
    ++counts.index_out;
}

bool EventSummarizer::is_experiment(const FlagInfo& flag, const JsonPart* reason) {
    if (is_null(reason)) {
        return false;
    }
    m_scratch_parts.clear();
    m_validator->parts_of(*reason, m_scratch_parts);
    std::string_view kind;
    std::optional<std::int64_t> rule_index;
    std::string rule_id;
    for (const JsonPart& member : m_scratch_parts) {
        if (member.key == "inExperiment" && member.value == "true") {
            return true; // the SDK said so (an experiment's rollout)
        }
        if (member.key == "kind" && member.type == JsonType::string) {
            kind = contents(member);
        } else if (member.key == "ruleIndex" && member.type == JsonType::number) {
            rule_index = json_number_as_int64(member.value);
        } else if (member.key == "ruleId" && member.type == JsonType::string) {
            rule_id = json_string_value(contents(member));
        }
    }
    if (kind == "FALLTHROUGH") {
        return flag.track_events_fallthrough;
    }
    if (kind == "RULE_MATCH") {
        const std::optional<std::size_t> rule = flag.rule_index_of(rule_index, rule_id);
        return rule && flag.rule_track_events[*rule];
    }
    return false;
}

// How a feature event is summarised, as Relay's TranslateFeatureEvent and go-sdk-events'
// processEvent decide it:
// - Without a `version`, the SDK did not find the flag: the counter is "unknown", and nothing
//   else is looked up (no variation, no tracking, no debugging), whatever the flag data says.
// - With a `version`, the event's version and variation are counted as they are when the flag
//   is in the flag data (the SDK evaluated that version; the flag data may be older or newer).
//   A flag absent from the flag data, and every flag while there is no flag data yet, is
//   counted under "unknown" (SPEC §8, issue 11 item 3); the full and debug events that the
//   event's own trackEvents/debugEventsUntilDate ask for still carry its version.
// - The event's own `trackEvents` / `debugEventsUntilDate` (PHP SDK >= 3.6, which also folds
//   the experiment rules into trackEvents) decide tracking and debugging when either is there.
// - Otherwise the flag data does: a full event when the flag has trackEvents, or the reason is
//   a fallthrough and the flag has trackEventsFallthrough, or a rule match whose rule has
//   trackEvents, or the reason says inExperiment (the SDKs' isExperiment; Relay reads only the
//   flag's trackEvents, as the SDKs did before experiments). A schema-1 event without a
//   variation gets the index of the first variation equal to its value.
// - A debug event while debugEventsUntilDate is later than both `now` and the upstream's last
//   Date (the SDKs' shouldDebugEvent).
// Output order as go-sdk-events: index, feature, debug.
bool EventSummarizer::add_feature(const Fields& fields, int schema_version, const FlagData* flags,
                                  std::int64_t now_ms, std::optional<std::int64_t> upstream_ms,
                                  std::vector<std::string>& out, SummarizeCounts& counts) {
    std::optional<std::int64_t> version;
    std::optional<std::int64_t> variation;
    std::optional<std::int64_t> debug_until;
    std::optional<bool> track_events;
    std::optional<bool> excluded;
    if (fields.key == nullptr || fields.key->type != JsonType::string ||
        !read_integer(fields.version, version) || !read_integer(fields.variation, variation) ||
        !read_integer(fields.debug_events_until_date, debug_until) ||
        !read_boolean(fields.track_events, track_events) ||
        !read_boolean(fields.exclude_from_summaries, excluded) ||
        !is_string_or_null(fields.prereq_of) ||
        !(is_null(fields.reason) || fields.reason->type == JsonType::object)) {
        return false;
    }
    const std::string_view flag_key = json_string_view(contents(*fields.key), m_scratch);
    m_value_json.clear();
    append_compact_json(m_value_json, fields.value != nullptr ? fields.value->value : "null");
    m_default_json.clear();
    append_compact_json(m_default_json,
                        fields.default_value != nullptr ? fields.default_value->value : "null");

    bool full_event = false;
    std::optional<std::int64_t> debug_events_until;
    std::optional<std::int64_t> counted_variation;
    m_value_identity.clear();
    auto value_identity = [&]() -> const std::string& {
        if (m_value_identity.empty()) {
            if (fields.value != nullptr) {
                append_canonical_json(*m_validator, *fields.value, m_value_identity);
            } else {
                m_value_identity = "null";
            }
        }
        return m_value_identity;
    };
    if (version) {
        counted_variation = variation;
        if (track_events || debug_until.value_or(0) != 0) {
            full_event = track_events.value_or(false);
            debug_events_until = debug_until;
        } else if (const FlagInfo* flag = flags != nullptr ? flags->find(flag_key) : nullptr) {
            full_event = flag->track_events || is_experiment(*flag, fields.reason);
            debug_events_until = flag->debug_events_until_date;
            if (schema_version <= 1 && !counted_variation) {
                if (auto index = flag->variation_index_of(value_identity())) {
                    counted_variation = static_cast<std::int64_t>(*index);
                }
            }
        }
    }
    // SPEC §8: a flag absent from the flag data — or any flag while there is no flag data yet —
    // is counted under "unknown", whatever version the event names.
    const bool known = version && flags != nullptr && flags->find(flag_key) != nullptr;
    const std::optional<std::int64_t> counted_version = known ? version : std::nullopt;
    if (!known) {
        counted_variation.reset();
    }
    if (!excluded.value_or(false)) {
        std::string_view identity;
        if (!counted_variation) {
            identity = value_identity();
        }
        m_summary.count(CountedEvaluation{flag_key, m_default_json, m_value_json, identity,
                                          counted_variation, counted_version, fields.creation_ms},
                        m_identity);
    }
    ++counts.summarised;

    add_index_if_new(fields, fields.creation_ms, out, counts);
    auto append_evaluation = [&](bool debug) {
        std::string& event = out.emplace_back(debug ? R"({"kind":"debug","creationDate":)"
                                                    : R"({"kind":"feature","creationDate":)");
        append_integer(event, fields.creation_ms);
        event += R"(,"key":)";
        event += fields.key->value;
        if (version) {
            event += R"(,"version":)";
            append_integer(event, *version);
        }
        if (debug) {
            event += R"(,"context":)";
            append_context(fields, event);
        } else {
            event += R"(,"contextKeys":)";
            append_context_keys(m_identity, event);
        }
        if (counted_variation) {
            event += R"(,"variation":)";
            append_integer(event, *counted_variation);
        }
        event += R"(,"value":)";
        event += m_value_json;
        event += R"(,"default":)";
        event += m_default_json;
        if (!is_null(fields.prereq_of)) {
            event += R"(,"prereqOf":)";
            event += fields.prereq_of->value;
        }
        if (!is_null(fields.reason)) {
            event += R"(,"reason":)";
            append_compact_json(event, fields.reason->value);
        }
        event += '}';
    };
    if (full_event) {
        append_evaluation(false);
        ++counts.feature_out;
    }
    if (debug_events_until && *debug_events_until > now_ms &&
        (!upstream_ms || *debug_events_until > *upstream_ms)) {
        append_evaluation(true);
        ++counts.debug_out;
    }
    return true;
}

std::optional<std::string> EventSummarizer::take_summary() {
    if (m_summary.empty()) {
        return std::nullopt;
    }
    std::string event;
    m_summary.take_event(event);
    return event;
}

} // namespace evrelay
