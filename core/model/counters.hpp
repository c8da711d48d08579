#pragma once

#include "core/model/endpoint.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace evrelay {

// Why an event was not delivered. Every drop is counted by reason (SPEC §2, §3).
enum class DropReason {
    queue_full,        // --max-pending exceeded and no spool
    rejected,          // upstream 401/403/other 4xx: credential unusable
    too_large,         // a single event still answered 413
    retries_exhausted, // recoverable failures until the last attempt
    shutdown,          // still undelivered when --shutdown-timeout ran out
    count              // number of reasons
};
std::string_view to_string(DropReason reason);

// Counters of one (environment, SDK kind). Lock-free increments from any thread; hot paths
// bump these instead of logging.
struct DeliveryCounters {
    std::atomic<std::uint64_t> events_received{0};
    std::atomic<std::uint64_t> events_forwarded{0};
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(DropReason::count)>
        events_dropped{};
    std::atomic<std::uint64_t> payloads_sent{0};
    std::atomic<std::uint64_t> payloads_failed{0};
    std::atomic<std::uint64_t> retries{0};
    std::atomic<std::uint64_t> splits{0}; // 413 halvings
    std::atomic<std::uint64_t> diagnostics_forwarded{0};
    // Written to the spool instead of being dropped (SPEC §7); delivered later by a flush.
    std::atomic<std::uint64_t> events_spooled{0};

    void drop(DropReason reason, std::uint64_t events) {
        events_dropped[static_cast<std::size_t>(reason)].fetch_add(events,
                                                                   std::memory_order_relaxed);
    }
    std::uint64_t dropped_total() const;
    // Analytics events plus diagnostic events delivered: what a report calls "forwarded", so that
    // received = forwarded + dropped + still pending.
    std::uint64_t forwarded_total() const {
        return events_forwarded.load(std::memory_order_relaxed) +
               diagnostics_forwarded.load(std::memory_order_relaxed);
    }
};

// All counters of a process, one set per (environment name, SDK kind), plus upstream
// failures by HTTP status. Entries are never removed, so pointers stay valid for the
// registry's lifetime.
class CounterRegistry {
  public:
    DeliveryCounters& for_target(const std::string& env_name, SdkKind sdk);
    void count_upstream_status(long status); // 0 = connection error / timeout

    std::vector<std::pair<std::pair<std::string, SdkKind>, const DeliveryCounters*>> all() const;
    std::map<long, std::uint64_t> upstream_failures() const;
    // Sum over every target.
    struct Totals {
        std::uint64_t received = 0, forwarded = 0, dropped = 0, payloads = 0, retries = 0,
                      spooled = 0;
        std::array<std::uint64_t, static_cast<std::size_t>(DropReason::count)> dropped_by_reason{};
    };
    Totals totals() const;

  private:
    mutable std::mutex m_mutex;
    std::map<std::pair<std::string, SdkKind>, std::unique_ptr<DeliveryCounters>> m_targets;
    std::map<long, std::uint64_t> m_upstream_failures;
};

} // namespace evrelay
