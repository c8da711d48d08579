#include "core/util/deadline_timer.hpp"

namespace evrelay::util {

DeadlineTimer::DeadlineTimer() : m_thread([this] { loop(); }) {}

DeadlineTimer::~DeadlineTimer() {
    std::map<std::pair<Clock::time_point, Id>, std::function<void()>> unrun;
    {
        std::lock_guard lock(m_mutex);
        m_stop = true;
        unrun.swap(m_due);
        m_at.clear();
    }
    m_wake.notify_all();
    m_thread.join();
    // `unrun` is destroyed here, without the lock: what its functions hold may take a while.
}

DeadlineTimer::Id DeadlineTimer::schedule(Clock::time_point at, std::function<void()> fn) {
    bool soonest = false;
    Id id = 0;
    {
        std::lock_guard lock(m_mutex);
        id = m_next++;
        m_at.emplace(id, at);
        m_due.emplace(std::make_pair(at, id), std::move(fn));
        soonest = m_due.begin()->first.second == id;
    }
    if (soonest) {
        m_wake.notify_all(); // the thread sleeps until a later deadline
    }
    return id;
}

bool DeadlineTimer::cancel(Id id) {
    std::function<void()> removed;
    {
        std::lock_guard lock(m_mutex);
        const auto found = m_at.find(id);
        if (found == m_at.end()) {
            return false;
        }
        const auto entry = m_due.find(std::make_pair(found->second, id));
        removed = std::move(entry->second);
        m_due.erase(entry);
        m_at.erase(found);
    }
    return true; // `removed` is destroyed here, without the lock
}

std::size_t DeadlineTimer::scheduled() const {
    std::lock_guard lock(m_mutex);
    return m_due.size();
}

void DeadlineTimer::loop() {
    std::unique_lock lock(m_mutex);
    while (!m_stop) {
        if (m_due.empty()) {
            m_wake.wait(lock);
            continue;
        }
        const auto first = m_due.begin();
        if (Clock::now() < first->first.first) {
            m_wake.wait_until(lock, first->first.first);
            continue;
        }
        std::function<void()> fn = std::move(first->second);
        m_at.erase(first->first.second);
        m_due.erase(first);
        lock.unlock();
        fn();
        fn = nullptr; // what it holds is released without the lock
        lock.lock();
    }
}

} // namespace evrelay::util
