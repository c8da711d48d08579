#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace evrelay {

// Bounds the bytes of events queued plus payloads cut but not yet delivered (--max-pending,
// SPEC §3). Shared by every publisher and the sender of one process. Thread-safe.
class MemoryBudget {
  public:
    explicit MemoryBudget(std::size_t limit_bytes) : m_limit(limit_bytes) {}

    // Takes up to `bytes` without waiting; returns how many were granted (all or nothing).
    bool try_acquire(std::size_t bytes);
    // Waits until `bytes` fit (sources that can apply back-pressure, such as replay). A request
    // larger than the whole limit is granted once nothing else is held, so it cannot deadlock.
    void acquire(std::size_t bytes);
    // As acquire(), but gives up after `timeout`; true when the bytes were granted.
    bool acquire_for(std::size_t bytes, std::chrono::milliseconds timeout);
    void release(std::size_t bytes);

    std::size_t used() const;
    std::size_t limit() const { return m_limit; }
    // limit - used (0 when over the limit after an oversized grant). A snapshot: another thread
    // may take the room before the caller does, so follow it with try_acquire.
    std::size_t available() const;

  private:
    mutable std::mutex m_mutex;
    std::condition_variable m_released;
    std::size_t m_limit;
    std::size_t m_used = 0;
};

// Move-only ownership of bytes taken from a MemoryBudget; gives them back when destroyed.
class BudgetLease {
  public:
    BudgetLease() = default;
    BudgetLease(MemoryBudget& budget, std::size_t bytes) : m_budget(&budget), m_bytes(bytes) {}
    BudgetLease(BudgetLease&& other) noexcept { *this = std::move(other); }
    BudgetLease& operator=(BudgetLease&& other) noexcept {
        if (this != &other) {
            reset();
            m_budget = other.m_budget;
            m_bytes = other.m_bytes;
            other.m_budget = nullptr;
            other.m_bytes = 0;
        }
        return *this;
    }
    BudgetLease(const BudgetLease&) = delete;
    BudgetLease& operator=(const BudgetLease&) = delete;
    ~BudgetLease() { reset(); }

    void reset() {
        if (m_budget != nullptr && m_bytes != 0) {
            m_budget->release(m_bytes);
        }
        m_budget = nullptr;
        m_bytes = 0;
    }
    // Moves `bytes` of this lease into a new one (when a payload is split in two).
    BudgetLease split(std::size_t bytes);
    std::size_t bytes() const { return m_bytes; }

  private:
    MemoryBudget* m_budget = nullptr;
    std::size_t m_bytes = 0;
};

} // namespace evrelay
