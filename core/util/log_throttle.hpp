#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace evrelay::util {

// Lets one log line through per interval and counts the ones it held back, so a storm of equal
// warnings costs nothing and the next line that passes can say how many were suppressed.
// Thread-safe, lock-free.
class LogThrottle {
  public:
    explicit LogThrottle(std::chrono::milliseconds interval = std::chrono::seconds(1))
        : m_interval(interval) {}

    // True when a line may be logged now; `suppressed` is then set to the lines held back since.
    bool allow(std::uint64_t& suppressed) {
        const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
        auto last = m_last.load(std::memory_order_relaxed);
        const auto interval =
            std::chrono::duration_cast<std::chrono::steady_clock::duration>(m_interval).count();
        if (last != 0 && now - last < interval) {
            m_suppressed.fetch_add(1, std::memory_order_relaxed);
            return false;
        }
        if (!m_last.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
            m_suppressed.fetch_add(1, std::memory_order_relaxed);
            return false;
        }
        suppressed = m_suppressed.exchange(0, std::memory_order_relaxed);
        return true;
    }

  private:
    std::chrono::milliseconds m_interval;
    std::atomic<std::int64_t> m_last{0};
    std::atomic<std::uint64_t> m_suppressed{0};
};

} // namespace evrelay::util
