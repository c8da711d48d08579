#pragma once

#include "core/model/counters.hpp"
#include "core/model/environment.hpp"

#include <chrono>
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
    std::chrono::system_clock::time_point upstream_state_since{}; // when that state began
    std::size_t queued_events = 0;                                // in the publishers' queues
    std::size_t in_flight_bytes = 0; // payloads handed to the sender, not yet done
    std::size_t pending_payloads = 0;
    std::vector<SummarisationStatus> summarisation; // per environment
};

// Events of one (environment, SDK kind) that were accepted and are not yet delivered or
// dropped — queued in a publisher or on their way upstream. The counters know this without a
// lock on the publishers; it is what /status and evrelay_queue_events report per queue.
std::uint64_t pending_events(const DeliveryCounters& counters);

struct StatusReportOptions {
    // Relay's [Main] disconnectedStatusTime: how long deliveries may fail (upstream state failing
    // or rejected) before the environments are reported "disconnected" and the whole "degraded".
    std::chrono::milliseconds disconnected_status_time{60000};
};

// GET /status (SPEC §4) in the Relay Proxy's shape, so that its health checks and dashboards
// read it unchanged:
//   {"environments":{"NAME":{"sdkKey":"sdk-****1234","mobileKey":…,"envId":…,
//                            "status":"connected"|"disconnected"}, …},
//    "status":"healthy"|"degraded","version":"…",
//    "evrelay":{"queues":[{env, sdk, pending, received, forwarded, dropped}],
//               "counters":{…, "rejectedPosts":{status: n}},
//               "upstream":{"state","stateSince" (Unix ms),"inFlightBytes","pendingPayloads",
//                           "failures":{status: n}}}}
// Credentials are masked (mask_credential; the client-side ID too, unlike Relay) and left out
// when the environment has none. evrelay has one upstream for every environment, so every
// environment reports the same status: "disconnected" once deliveries have failed for
// options.disconnected_status_time (at `now`); "status" is "degraded" when any environment is
// disconnected. evrelay's own figures are under "evrelay".
std::string render_status_json(const std::vector<Environment>& environments,
                               const CounterRegistry& counters, const RuntimeStatus& runtime,
                               const std::map<int, std::uint64_t>& rejected_posts,
                               const StatusReportOptions& options,
                               std::chrono::system_clock::time_point now);

} // namespace evrelay
