#pragma once

#include "core/model/counters.hpp"
#include "core/model/delivery_listener.hpp"
#include "core/util/log_throttle.hpp"

#include <atomic>
#include <mutex>
#include <optional>
#include <string>

namespace evrelay {

// The end of the line for payloads the sender gave up on when there is no spool: counts the
// dropped events by reason and logs a rate-limited warning (SPEC §2: nothing is dropped
// silently). Remembers whether the upstream rejected a credential, which makes replay exit 78.
// Thread-safe.
class DeliveryLedger : public DeliveryListener {
  public:
    explicit DeliveryLedger(CounterRegistry& counters) : m_counters(counters) {}

    void on_delivered(const Payload& payload, long status) override;
    void on_undeliverable(Payload payload, Undeliverable reason, long last_status) override;

    bool credential_rejected() const { return m_rejected.load(); }
    std::optional<std::string> first_rejection() const;

  private:
    CounterRegistry& m_counters;
    util::LogThrottle m_throttle;
    std::atomic<bool> m_rejected{false};
    mutable std::mutex m_mutex;
    std::optional<std::string> m_first_rejection;
};

} // namespace evrelay
