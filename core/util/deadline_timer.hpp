#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

namespace evrelay::util {

// Calls functions at their deadlines, on a thread of its own, unless they are cancelled first
// (serve --durable-timeout: the 503 of a durable post whose fsync is late). A function runs
// without the timer's lock held, so it may schedule or cancel. Thread-safe.
class DeadlineTimer {
  public:
    using Clock = std::chrono::steady_clock;
    using Id = std::uint64_t;

    DeadlineTimer();
    // Destroys the functions still scheduled without calling them, then joins the thread (a
    // function running then is waited for). Not to be destroyed from one of its own functions.
    ~DeadlineTimer();
    DeadlineTimer(const DeadlineTimer&) = delete;
    DeadlineTimer& operator=(const DeadlineTimer&) = delete;

    Id schedule(Clock::time_point at, std::function<void()> fn);
    // True when `id` was removed before it ran (its function is destroyed on this thread, without
    // the timer's lock); false when it ran already, runs now, or is unknown.
    bool cancel(Id id);
    std::size_t scheduled() const;

  private:
    void loop();

    mutable std::mutex m_mutex;
    std::condition_variable m_wake;
    // Soonest first; the id breaks ties and finds the entry again (m_at).
    std::map<std::pair<Clock::time_point, Id>, std::function<void()>> m_due;
    std::unordered_map<Id, Clock::time_point> m_at;
    Id m_next = 1;
    bool m_stop = false;
    std::thread m_thread; // last: started once the members it uses exist
};

} // namespace evrelay::util
