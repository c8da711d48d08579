#include "core/pipeline/upstream_state.hpp"

namespace evrelay {

std::string_view to_string(UpstreamState state) {
    switch (state) {
    case UpstreamState::unknown:
        return "unknown";
    case UpstreamState::ok:
        return "ok";
    case UpstreamState::failing:
        return "failing";
    case UpstreamState::rejected:
        return "rejected";
    }
    return "unknown";
}

namespace {

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

} // namespace

UpstreamStateTracker::UpstreamStateTracker(DeliveryListener& next)
    : m_next(next), m_since_ms(now_ms()) {}

std::chrono::system_clock::time_point UpstreamStateTracker::since() const {
    return std::chrono::system_clock::time_point(
        std::chrono::milliseconds(m_since_ms.load(std::memory_order_relaxed)));
}

// Only a change moves since(): a run of failures keeps the time the first one ended.
void UpstreamStateTracker::enter(UpstreamState state) {
    if (m_state.exchange(state, std::memory_order_relaxed) != state) {
        m_since_ms.store(now_ms(), std::memory_order_relaxed);
    }
}

void UpstreamStateTracker::on_delivered(const Payload& payload, long status) {
    enter(UpstreamState::ok);
    m_next.on_delivered(payload, status);
}

void UpstreamStateTracker::on_undeliverable(Payload payload, Undeliverable reason,
                                            long last_status) {
    switch (reason) {
    case Undeliverable::rejected:
    case Undeliverable::proxy_rejected:
    case Undeliverable::disabled:
    case Undeliverable::no_credential:
        enter(UpstreamState::rejected);
        break;
    case Undeliverable::retries_exhausted:
        enter(UpstreamState::failing);
        break;
    case Undeliverable::too_large: // one event the upstream will never take: says nothing of it
    case Undeliverable::shutdown:  // our decision, not the upstream's
        break;
    }
    m_next.on_undeliverable(std::move(payload), reason, last_status);
}

} // namespace evrelay
