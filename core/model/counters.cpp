#include "core/model/counters.hpp"

namespace evrelay {

std::string_view to_string(DropReason reason) {
    switch (reason) {
    case DropReason::queue_full:
        return "queue_full";
    case DropReason::rejected:
        return "rejected";
    case DropReason::too_large:
        return "too_large";
    case DropReason::retries_exhausted:
        return "retries_exhausted";
    case DropReason::shutdown:
        return "shutdown";
    case DropReason::count:
        break;
    }
    return "unknown";
}

std::uint64_t DeliveryCounters::dropped_total() const {
    std::uint64_t total = 0;
    for (const auto& dropped : events_dropped) {
        total += dropped.load(std::memory_order_relaxed);
    }
    return total;
}

DeliveryCounters& CounterRegistry::for_target(const std::string& env_name, SdkKind sdk) {
    std::lock_guard lock(m_mutex);
    auto& entry = m_targets[{env_name, sdk}];
    if (!entry) {
        entry = std::make_unique<DeliveryCounters>();
    }
    return *entry;
}

void CounterRegistry::count_upstream_status(long status) {
    std::lock_guard lock(m_mutex);
    ++m_upstream_failures[status];
}

std::vector<std::pair<std::pair<std::string, SdkKind>, const DeliveryCounters*>>
CounterRegistry::all() const {
    std::lock_guard lock(m_mutex);
    std::vector<std::pair<std::pair<std::string, SdkKind>, const DeliveryCounters*>> result;
    result.reserve(m_targets.size());
    for (const auto& [key, counters] : m_targets) {
        result.emplace_back(key, counters.get());
    }
    return result;
}

std::map<long, std::uint64_t> CounterRegistry::upstream_failures() const {
    std::lock_guard lock(m_mutex);
    return m_upstream_failures;
}

CounterRegistry::Totals CounterRegistry::totals() const {
    std::lock_guard lock(m_mutex);
    Totals totals;
    for (const auto& [key, counters] : m_targets) {
        totals.received += counters->events_received.load(std::memory_order_relaxed);
        totals.forwarded += counters->forwarded_total();
        totals.payloads += counters->payloads_sent.load(std::memory_order_relaxed);
        totals.retries += counters->retries.load(std::memory_order_relaxed);
        totals.spooled += counters->events_spooled.load(std::memory_order_relaxed);
        for (std::size_t i = 0; i < totals.dropped_by_reason.size(); ++i) {
            const std::uint64_t dropped =
                counters->events_dropped[i].load(std::memory_order_relaxed);
            totals.dropped_by_reason[i] += dropped;
            totals.dropped += dropped;
        }
    }
    return totals;
}

} // namespace evrelay
