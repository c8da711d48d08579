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

void UpstreamStateTracker::on_delivered(const Payload& payload, long status) {
    m_state.store(UpstreamState::ok, std::memory_order_relaxed);
    m_next.on_delivered(payload, status);
}

void UpstreamStateTracker::on_undeliverable(Payload payload, Undeliverable reason,
                                            long last_status) {
    switch (reason) {
    case Undeliverable::rejected:
    case Undeliverable::proxy_rejected:
    case Undeliverable::disabled:
    case Undeliverable::no_credential:
        m_state.store(UpstreamState::rejected, std::memory_order_relaxed);
        break;
    case Undeliverable::retries_exhausted:
        m_state.store(UpstreamState::failing, std::memory_order_relaxed);
        break;
    case Undeliverable::too_large: // one event the upstream will never take: says nothing of it
    case Undeliverable::shutdown:  // our decision, not the upstream's
        break;
    }
    m_next.on_undeliverable(std::move(payload), reason, last_status);
}

} // namespace evrelay
