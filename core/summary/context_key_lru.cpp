#include "core/summary/context_key_lru.hpp"

namespace evrelay {

bool ContextKeyLru::add(std::string_view key) {
    if (const auto found = m_index.find(key); found != m_index.end()) {
        m_order.splice(m_order.begin(), m_order, found->second);
        return true;
    }
    if (m_capacity == 0) {
        return false;
    }
    if (m_index.size() >= m_capacity) {
        m_index.erase(m_order.back());
        m_order.pop_back();
    }
    m_order.emplace_front(key);
    m_index.emplace(m_order.front(), m_order.begin());
    return false;
}

void ContextKeyLru::clear() {
    m_index.clear();
    m_order.clear();
}

} // namespace evrelay
