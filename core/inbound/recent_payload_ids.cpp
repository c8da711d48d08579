#include "core/inbound/recent_payload_ids.hpp"

namespace evrelay {

bool RecentPayloadIds::contains(const std::string& key) const {
    std::lock_guard lock(m_mutex);
    return m_keys.count(key) != 0;
}

void RecentPayloadIds::add(const std::string& key) {
    std::lock_guard lock(m_mutex);
    if (m_capacity == 0 || !m_keys.insert(key).second) {
        return;
    }
    m_order.push_back(key);
    if (m_order.size() > m_capacity) {
        m_keys.erase(m_order.front());
        m_order.pop_front();
    }
}

} // namespace evrelay
