#pragma once

#include "core/model/counters.hpp"
#include "core/model/environment.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace evrelay {

// What only the running serve command knows (the sender and the upstream); the rest of a
// status report comes from the environments and the counters.
struct RuntimeStatus {
    std::string upstream_state = "unknown"; // unknown, ok, failing, rejected (UpstreamState)
    std::size_t queued_events = 0;          // in the publishers' queues
    std::size_t in_flight_bytes = 0;        // payloads handed to the sender, not yet done
    std::size_t pending_payloads = 0;
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
