#pragma once

#include "core/model/delivery_listener.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

namespace evrelay {

// What /status says about the upstream, from the outcome of the last payload that ended.
enum class UpstreamState {
    unknown,  // nothing delivered or given up on yet
    ok,       // the last payload was delivered
    failing,  // the last payload ran out of attempts (connection errors, 5xx, 429 …)
    rejected, // the upstream refused a credential (401, 403, other 4xx), or the proxy its (407)
};
std::string_view to_string(UpstreamState state);

// A DeliveryListener in front of another (the DeliveryLedger): records the upstream's state,
// then passes every outcome on unchanged. Thread-safe (called on the sender's thread, read from
// the HTTP threads).
class UpstreamStateTracker : public DeliveryListener {
  public:
    explicit UpstreamStateTracker(DeliveryListener& next);

    void on_delivered(const Payload& payload, long status) override;
    void on_undeliverable(Payload payload, Undeliverable reason, long last_status) override;

    UpstreamState state() const { return m_state.load(std::memory_order_relaxed); }
    // When state() last changed (at first: when the tracker was made). /status reports the
    // environments disconnected once a failing state has lasted [Main] disconnectedStatusTime.
    std::chrono::system_clock::time_point since() const;

  private:
    void enter(UpstreamState state);

    DeliveryListener& m_next;
    std::atomic<UpstreamState> m_state{UpstreamState::unknown};
    std::atomic<std::int64_t> m_since_ms; // system_clock, ms since the epoch
};

} // namespace evrelay
