#include "core/pipeline/delivery_ledger.hpp"

#include <spdlog/spdlog.h>

namespace evrelay {

void DeliveryLedger::on_delivered(const Payload&, long) {
    // The sender counts deliveries itself; nothing is owed here.
}

void DeliveryLedger::on_undeliverable(Payload payload, Undeliverable reason, long last_status) {
    m_counters.for_target(payload.env_name, payload.sdk)
        .drop(drop_reason_for(reason), payload.event_count);
    if (is_credential_problem(reason)) {
        m_rejected.store(true);
        std::lock_guard lock(m_mutex);
        if (!m_first_rejection) {
            m_first_rejection = describe_credential_problem(payload, reason, last_status);
        }
    }
    std::uint64_t suppressed = 0;
    if (m_throttle.allow(suppressed)) {
        spdlog::warn("dropped {} event(s) of {}/{}: {} (last status {}){}", payload.event_count,
                     payload.env_name, to_string(payload.sdk), to_string(reason), last_status,
                     suppressed > 0 ? fmt::format("; {} similar warnings suppressed", suppressed)
                                    : std::string());
    }
}

std::optional<std::string> DeliveryLedger::first_rejection() const {
    std::lock_guard lock(m_mutex);
    return m_first_rejection;
}

} // namespace evrelay
