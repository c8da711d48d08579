#include "core/inbound/recent_payload_ids.hpp"

namespace evrelay {

bool RecentPayloadIds::contains(const std::string& key) const {
    std::lock_guard lock(m_mutex);
    return m_keys.count(key) != 0;
}

void RecentPayloadIds::add(const std::string& key) {
    std::lock_guard lock(m_mutex);
    add_locked(key);
}

void RecentPayloadIds::add_locked(const std::string& key) {
    if (m_capacity == 0 || !m_keys.insert(key).second) {
        return;
    }
    m_order.push_back(key);
    if (m_order.size() > m_capacity) {
        m_keys.erase(m_order.front());
        m_order.pop_front();
    }
}

RecentPayloadIds::Claim RecentPayloadIds::claim(const std::string& key) {
    std::lock_guard lock(m_mutex);
    if (m_keys.count(key) != 0) {
        return Claim::stored;
    }
    if (!m_storing.try_emplace(key).second) {
        return Claim::storing;
    }
    return Claim::claimed;
}

void RecentPayloadIds::finish(const std::string& key, bool stored) {
    std::vector<Waiter> waiters;
    {
        std::lock_guard lock(m_mutex);
        if (const auto found = m_storing.find(key); found != m_storing.end()) {
            waiters = std::move(found->second);
            m_storing.erase(found);
        }
        if (stored) {
            add_locked(key);
        }
    }
    for (auto& waiter : waiters) {
        waiter(stored);
    }
}

void RecentPayloadIds::when_finished(const std::string& key, Waiter waiter) {
    bool stored = false;
    {
        std::lock_guard lock(m_mutex);
        if (const auto found = m_storing.find(key); found != m_storing.end()) {
            found->second.push_back(std::move(waiter));
            return;
        }
        stored = m_keys.count(key) != 0;
    }
    waiter(stored);
}

} // namespace evrelay
