#pragma once

#include "core/model/counters.hpp"
#include "core/model/environment.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace evrelay {

// What the summariser did for one environment, and the flag data it used (SPEC §8; /status and
// /metrics, issue 11 item 5).
struct SummarisationStatus {
    std::string env;
    std::uint64_t input_events = 0;   // events of schema 1–2 and Unsummarized posts summarised
    std::uint64_t summary_events = 0; // produced
    std::uint64_t index_events = 0;
    std::uint64_t feature_events = 0;
    std::uint64_t debug_events = 0;
    std::string flag_data_source; // "file PATH", "poll URL", "" (none configured)
    bool flag_data_loaded = false;
    std::uint64_t flag_count = 0;
    std::optional<double> flag_data_age_seconds; // since read or confirmed unchanged
    std::string flag_data_error;                 // of the last failed read or poll
};

// What only the running serve command knows (the sender and the upstream); the rest of a
// status report comes from the environments and the counters.
struct RuntimeStatus {
    std::string upstream_state = "unknown"; // unknown, ok, failing, rejected (UpstreamState)
    std::size_t queued_events = 0;          // in the publishers' queues
    std::size_t in_flight_bytes = 0;        // payloads handed to the sender, not yet done
    std::size_t pending_payloads = 0;
    std::vector<SummarisationStatus> summarisation; // per environment
};

// Events of one (environment, SDK kind) that were accepted and are not yet delivered or
// dropped — queued in a publisher or on their way upstream. The counters know this without a
// lock on the publishers; it is what /status and evrelay_queue_events report per queue.
std::uint64_t pending_events(const DeliveryCounters& counters);

// GET /status (SPEC §4): {"version","environments":[{name, sdkKey, mobileKey, envId}] with keys
// masked, "queues":[{env, sdk, pending}], "counters":{…}, "rejectedPosts":{status: n},
// "upstream":{"state", "inFlightBytes", "pendingPayloads", "failures":{status: n}}}.
std::string render_status_json(const std::vector<Environment>& environments,
                               const CounterRegistry& counters, const RuntimeStatus& runtime,
                               const std::map<int, std::uint64_t>& rejected_posts);

} // namespace evrelay
