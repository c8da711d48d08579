#pragma once

#include "core/model/endpoint.hpp"
#include "core/model/memory_budget.hpp"
#include "core/model/metadata.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace evrelay {

// One HTTP POST body on its way upstream, with everything needed to send, retry, split or
// spool it. Built once by the publisher (or the diagnostic pass-through), then only moved.
struct Payload {
    std::string id; // X-LaunchDarkly-Payload-ID; empty for diagnostic payloads (SPEC §2)
    std::string env_name;
    SdkKind sdk = SdkKind::server;
    DataKind data = DataKind::analytics;
    PayloadMetadata metadata;
    std::string body;            // "[e1,e2,…]" for analytics, the object for diagnostics
    std::size_t event_count = 0; // 1 for a diagnostic payload
    // Diagnostic pass-through: inbound headers forwarded as they came (SPEC §2). When set, the
    // sender uses these instead of its own Authorization/User-Agent/Content-Type.
    std::vector<std::pair<std::string, std::string>> passthrough_headers;
    std::chrono::system_clock::time_point created = std::chrono::system_clock::now();
    // Opaque tag of the payload's source, for the listener (a spool line being delivered); 0 for
    // payloads cut from memory. The halves of a 413 split carry their whole's tag.
    std::uint64_t origin = 0;
    BudgetLease lease; // bytes held against --max-pending until the payload is done with
};

// Where payloads go once cut: the sender, the dry-run printer, later the spool.
// submit() may block to apply back-pressure (bounded bytes in flight).
class PayloadSink {
  public:
    virtual ~PayloadSink() = default;
    virtual void submit(Payload payload) = 0;
};

// Builds an analytics body "[e1,e2,…]" from event slices.
std::string join_events(const std::vector<std::string_view>& events);

} // namespace evrelay
