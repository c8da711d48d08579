#pragma once

#include "core/upstream/sender_job.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <tuple>
#include <utility>
#include <vector>

namespace evrelay {

// The jobs waiting for a retry, earliest due first (equal due times in the order they were
// scheduled). Owns them. A heap on a vector, as std::priority_queue is, but one whose top can be
// moved out. Used by the sender's curl thread only.
class RetryQueue {
  public:
    using Clock = std::chrono::steady_clock;

    void push(Clock::time_point due, JobPtr job) {
        m_heap.push_back(Entry{due, m_sequence++, std::move(job)});
        std::push_heap(m_heap.begin(), m_heap.end(), later);
    }
    bool empty() const { return m_heap.empty(); }
    // Not empty().
    Clock::time_point next_due() const { return m_heap.front().due; }
    // The earliest; not empty().
    JobPtr pop() {
        std::pop_heap(m_heap.begin(), m_heap.end(), later);
        JobPtr job = std::move(m_heap.back().job);
        m_heap.pop_back();
        return job;
    }

  private:
    struct Entry {
        Clock::time_point due;
        std::uint64_t sequence;
        JobPtr job;
    };
    static bool later(const Entry& a, const Entry& b) {
        return std::tie(a.due, a.sequence) > std::tie(b.due, b.sequence);
    }

    std::vector<Entry> m_heap;
    std::uint64_t m_sequence = 0;
};

} // namespace evrelay
