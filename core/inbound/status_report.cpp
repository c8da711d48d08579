#include "core/inbound/status_report.hpp"

#include "core/model/credential.hpp"
#include "core/util/json_writer.hpp"

namespace evrelay {

namespace {

void append_field(std::string& out, std::string_view name, std::string_view value) {
    util::append_json_string(out, name);
    out += ':';
    util::append_json_string(out, value);
}

void append_number(std::string& out, std::string_view name, std::uint64_t value) {
    util::append_json_string(out, name);
    out += ':';
    out += std::to_string(value);
}

// ,"summarisation":{"ENV":{"inputEvents","summaryEvents","indexEvents","featureEvents",
// "debugEvents","flagData":{"source","loaded","flags","ageSeconds","error"}}}
void append_summarisation(std::string& out, const std::vector<SummarisationStatus>& statuses) {
    out += ",\"summarisation\":{";
    for (std::size_t i = 0; i < statuses.size(); ++i) {
        const SummarisationStatus& status = statuses[i];
        if (i != 0) {
            out += ',';
        }
        util::append_json_string(out, status.env);
        out += ":{";
        append_number(out, "inputEvents", status.input_events);
        out += ',';
        append_number(out, "summaryEvents", status.summary_events);
        out += ',';
        append_number(out, "indexEvents", status.index_events);
        out += ',';
        append_number(out, "featureEvents", status.feature_events);
        out += ',';
        append_number(out, "debugEvents", status.debug_events);
        out += ",\"flagData\":{";
        append_field(out, "source", status.flag_data_source);
        out += status.flag_data_loaded ? ",\"loaded\":true," : ",\"loaded\":false,";
        append_number(out, "flags", status.flag_count);
        out += ",\"ageSeconds\":";
        out += status.flag_data_age_seconds
                   ? std::to_string(static_cast<std::uint64_t>(*status.flag_data_age_seconds))
                   : std::string("null");
        if (!status.flag_data_error.empty()) {
            out += ',';
            append_field(out, "error", status.flag_data_error);
        }
        out += "}}";
    }
    out += '}';
}

} // namespace

std::uint64_t pending_events(const DeliveryCounters& counters) {
    const std::uint64_t received = counters.events_received.load(std::memory_order_relaxed);
    const std::uint64_t done = counters.forwarded_total() + counters.dropped_total();
    // The counters are read one by one while other threads bump them; never report "negative".
    return received > done ? received - done : 0;
}

namespace {

std::int64_t unix_ms(std::chrono::system_clock::time_point time) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

// Whether deliveries have failed for long enough that Relay would call its data source
// disconnected: the state is failing or rejected and has lasted the grace time.
bool upstream_disconnected(const RuntimeStatus& runtime, const StatusReportOptions& options,
                           std::chrono::system_clock::time_point now) {
    const bool down = runtime.upstream_state == "failing" || runtime.upstream_state == "rejected";
    return down && now - runtime.upstream_state_since >= options.disconnected_status_time;
}

void append_environments(std::string& out, const std::vector<Environment>& environments,
                         std::string_view status) {
    out += "\"environments\":{";
    for (std::size_t i = 0; i < environments.size(); ++i) {
        const Environment& env = environments[i];
        if (i != 0) {
            out += ',';
        }
        // Keyed by name as in Relay; an unnamed environment never shows its ID in clear.
        util::append_json_string(out, env.name.empty() ? mask_credential(env.env_id) : env.name);
        out += ":{";
        for (const auto& [field, value] :
             {std::pair{"sdkKey", &env.sdk_key}, std::pair{"mobileKey", &env.mobile_key},
              std::pair{"envId", &env.env_id}}) {
            if (!value->empty()) {
                append_field(out, field, mask_credential(*value));
                out += ',';
            }
        }
        append_field(out, "status", status);
        out += '}';
    }
    out += '}';
}

// evrelay's own figures: queues, counters and the upstream.
void append_evrelay_figures(std::string& out, const CounterRegistry& counters,
                            const RuntimeStatus& runtime,
                            const std::map<int, std::uint64_t>& rejected_posts) {
    out += "\"evrelay\":{\"queues\":[";
    bool first = true;
    for (const auto& [key, target] : counters.all()) {
        out += first ? "{" : ",{";
        first = false;
        append_field(out, "env", key.first);
        out += ',';
        append_field(out, "sdk", to_string(key.second));
        out += ',';
        append_number(out, "pending", pending_events(*target));
        out += ',';
        append_number(out, "received", target->events_received.load());
        out += ',';
        append_number(out, "forwarded", target->forwarded_total());
        out += ',';
        append_number(out, "dropped", target->dropped_total());
        out += '}';
    }
    const auto totals = counters.totals();
    std::uint64_t forwarded = 0;
    for (const auto& [key, target] : counters.all()) {
        forwarded += target->forwarded_total();
    }
    out += "],\"counters\":{";
    append_number(out, "eventsReceived", totals.received);
    out += ',';
    append_number(out, "eventsForwarded", forwarded);
    out += ',';
    append_number(out, "eventsDropped", totals.dropped);
    out += ",\"eventsDroppedByReason\":{";
    for (std::size_t i = 0; i < totals.dropped_by_reason.size(); ++i) {
        if (i != 0) {
            out += ',';
        }
        append_number(out, to_string(static_cast<DropReason>(i)), totals.dropped_by_reason[i]);
    }
    out += "},";
    append_number(out, "payloadsSent", totals.payloads);
    out += ',';
    append_number(out, "retries", totals.retries);
    out += ',';
    append_number(out, "queuedEvents", runtime.queued_events);
    out += ",\"rejectedPosts\":{";
    first = true;
    for (const auto& [status, count] : rejected_posts) {
        if (!first) {
            out += ',';
        }
        first = false;
        append_number(out, std::to_string(status), count);
    }
    out += "}},\"upstream\":{";
    append_field(out, "state", runtime.upstream_state);
    out += ",\"stateSince\":";
    out += std::to_string(unix_ms(runtime.upstream_state_since));
    out += ',';
    append_number(out, "inFlightBytes", runtime.in_flight_bytes);
    out += ',';
    append_number(out, "pendingPayloads", runtime.pending_payloads);
    out += ",\"failures\":{";
    first = true;
    for (const auto& [status, count] : counters.upstream_failures()) {
        if (!first) {
            out += ',';
        }
        first = false;
        append_number(out, std::to_string(status), count);
    }
    out += "}}";
    append_summarisation(out, runtime.summarisation);
    out += '}';
}

} // namespace

std::string render_status_json(const std::vector<Environment>& environments,
                               const CounterRegistry& counters, const RuntimeStatus& runtime,
                               const std::map<int, std::uint64_t>& rejected_posts,
                               const StatusReportOptions& options,
                               std::chrono::system_clock::time_point now) {
    const bool disconnected = upstream_disconnected(runtime, options, now);
    std::string out = "{";
    append_environments(out, environments, disconnected ? "disconnected" : "connected");
    out += ',';
    append_field(out, "status", disconnected ? "degraded" : "healthy");
    out += ',';
    append_field(out, "version", EVRELAY_VERSION);
    out += ',';
    append_evrelay_figures(out, counters, runtime, rejected_posts);
    out += '}';
    return out;
}

} // namespace evrelay
