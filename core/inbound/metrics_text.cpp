#include "core/inbound/metrics_text.hpp"

namespace evrelay {

namespace {

// Label values escape '\\', '"' and newline (exposition format 0.0.4).
std::string label_value(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out.push_back(c);
        }
    }
    return out;
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

void sample(std::string& out, std::string_view name, const std::string& labels,
            std::uint64_t value) {
    out += name;
    if (!labels.empty()) {
        out += '{';
        out += labels;
        out += '}';
    }
    out += ' ';
    out += std::to_string(value);
    out += '\n';
}

// SPEC §8 (issue 11 item 5): what the summariser took in and produced, and the flag data's age.
template <class Named>
void append_summarisation_metrics(std::string& out,
                                  const std::vector<SummarisationStatus>& statuses,
                                  const Named& named) {
    const auto per_env = [&](std::string_view bare_name, std::string_view type,
                             std::string_view help, auto value_of) {
        const std::string name = named(bare_name);
        header(out, name, type, help);
        for (const SummarisationStatus& status : statuses) {
            sample(out, name, "env=\"" + label_value(status.env) + "\"", value_of(status));
        }
    };
    per_env("evrelay_summarised_input_events_total", "counter",
            "Events of schema 1-2 and Unsummarized posts given to the summariser.",
            [](const SummarisationStatus& s) { return s.input_events; });
    per_env("evrelay_summary_events_total", "counter", "Summary events produced.",
            [](const SummarisationStatus& s) { return s.summary_events; });
    per_env("evrelay_index_events_total", "counter", "Index events produced by the summariser.",
            [](const SummarisationStatus& s) { return s.index_events; });
    per_env("evrelay_feature_events_total", "counter",
            "Full feature events produced by the summariser (tracked flags).",
            [](const SummarisationStatus& s) { return s.feature_events; });
    per_env("evrelay_debug_events_total", "counter", "Debug events produced by the summariser.",
            [](const SummarisationStatus& s) { return s.debug_events; });
    const std::string age = named("evrelay_flag_data_age_seconds");
    header(out, age, "gauge",
           "Seconds since the flag data was read or confirmed unchanged (absent: none yet).");
    for (const SummarisationStatus& status : statuses) {
        if (status.flag_data_age_seconds) {
            sample(out, age,
                   "env=\"" + label_value(status.env) + "\",source=\"" +
                       label_value(status.flag_data_source) + "\"",
                   static_cast<std::uint64_t>(*status.flag_data_age_seconds));
        }
    }
}

} // namespace

std::string render_prometheus_metrics(const CounterRegistry& counters, const RuntimeStatus& runtime,
                                      const std::map<int, std::uint64_t>& rejected_posts,
                                      std::string_view prefix) {
    const auto targets = counters.all();
    std::string out;
    // [Prometheus] prefix joins the name with '_', as Relay's exporter (its namespace) does.
    const auto named = [&](std::string_view name) {
        return prefix.empty() ? std::string(name) : std::string(prefix) + "_" + std::string(name);
    };
    auto per_target = [&](std::string_view bare_name, std::string_view type, std::string_view help,
                          auto value_of) {
        const std::string name = named(bare_name);
        header(out, name, type, help);
        for (const auto& [key, target] : targets) {
            const std::string labels = "env=\"" + label_value(key.first) + "\",sdk=\"" +
                                       std::string(to_string(key.second)) + "\"";
            sample(out, name, labels, value_of(*target));
        }
    };
    per_target("evrelay_events_received_total", "counter", "Events accepted from SDKs.",
               [](const DeliveryCounters& c) { return c.events_received.load(); });
    per_target("evrelay_events_forwarded_total", "counter",
               "Events delivered upstream (diagnostic events included).",
               [](const DeliveryCounters& c) { return c.forwarded_total(); });
    per_target("evrelay_events_spooled_total", "counter",
               "Events written to the spool instead of being dropped (serve --spool).",
               [](const DeliveryCounters& c) { return c.events_spooled.load(); });
    const std::string dropped = named("evrelay_events_dropped_total");
    header(out, dropped, "counter", "Events not delivered, by reason.");
    for (const auto& [key, target] : targets) {
        for (std::size_t i = 0; i < static_cast<std::size_t>(DropReason::count); ++i) {
            const std::string labels = "env=\"" + label_value(key.first) + "\",sdk=\"" +
                                       std::string(to_string(key.second)) + "\",reason=\"" +
                                       std::string(to_string(static_cast<DropReason>(i))) + "\"";
            sample(out, dropped, labels, target->events_dropped[i].load());
        }
    }
    per_target("evrelay_payloads_sent_total", "counter", "Payloads delivered upstream.",
               [](const DeliveryCounters& c) { return c.payloads_sent.load(); });
    per_target("evrelay_retries_total", "counter", "Upstream attempts after the first.",
               [](const DeliveryCounters& c) { return c.retries.load(); });
    per_target("evrelay_queue_events", "gauge",
               "Events accepted and not yet delivered or dropped (queued or in flight).",
               [](const DeliveryCounters& c) { return pending_events(c); });

    const std::string failures = named("evrelay_upstream_failures_total");
    header(out, failures, "counter",
           "Failed upstream attempts by HTTP status (0: connection error or timeout).");
    for (const auto& [status, count] : counters.upstream_failures()) {
        sample(out, failures, "status=\"" + std::to_string(status) + "\"", count);
    }
    const std::string rejected = named("evrelay_posts_rejected_total");
    header(out, rejected, "counter", "Inbound requests answered with an error status.");
    for (const auto& [status, count] : rejected_posts) {
        sample(out, rejected, "status=\"" + std::to_string(status) + "\"", count);
    }
    const std::string in_flight = named("evrelay_in_flight_bytes");
    header(out, in_flight, "gauge", "Bytes of payloads handed to the sender.");
    sample(out, in_flight, "", runtime.in_flight_bytes);
    append_summarisation_metrics(out, runtime.summarisation, named);
    return out;
}

} // namespace evrelay
