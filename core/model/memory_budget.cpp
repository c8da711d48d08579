#include "core/model/memory_budget.hpp"

#include <algorithm>
#include <cassert>

namespace evrelay {

bool MemoryBudget::try_acquire(std::size_t bytes) {
    std::lock_guard lock(m_mutex);
    if (bytes > m_limit - std::min(m_used, m_limit)) {
        return false;
    }
    m_used += bytes;
    return true;
}

bool MemoryBudget::acquire_for(std::size_t bytes, std::chrono::milliseconds timeout) {
    std::unique_lock lock(m_mutex);
    if (!m_released.wait_for(lock, timeout, [&] {
            return m_used == 0 || bytes <= m_limit - std::min(m_used, m_limit);
        })) {
        return false;
    }
    m_used += bytes;
    return true;
}

void MemoryBudget::acquire(std::size_t bytes) {
    std::unique_lock lock(m_mutex);
    // "used == 0" lets a request larger than the whole limit through once nothing else is held;
    // otherwise such a request could never be granted.
    m_released.wait(lock,
                    [&] { return m_used == 0 || bytes <= m_limit - std::min(m_used, m_limit); });
    m_used += bytes;
}

void MemoryBudget::release(std::size_t bytes) {
    {
        std::lock_guard lock(m_mutex);
        assert(bytes <= m_used);
        m_used -= std::min(bytes, m_used);
    }
    // Waiters want different amounts, so every one of them must re-check.
    m_released.notify_all();
}

std::size_t MemoryBudget::used() const {
    std::lock_guard lock(m_mutex);
    return m_used;
}

std::size_t MemoryBudget::available() const {
    std::lock_guard lock(m_mutex);
    return m_limit - std::min(m_used, m_limit);
}

BudgetLease BudgetLease::split(std::size_t bytes) {
    if (m_budget == nullptr) {
        return {};
    }
    // Asking for more than the lease holds is a caller's rounding; never create bytes.
    const std::size_t moved = std::min(bytes, m_bytes);
    m_bytes -= moved;
    return BudgetLease(*m_budget, moved);
}

} // namespace evrelay
