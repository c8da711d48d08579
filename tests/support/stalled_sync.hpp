#pragma once

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <unistd.h>

namespace evrelay::test {

// A disk whose fdatasync(2) hangs until released: SpoolWriterOptions::sync_data = hook(). While
// stalled, each sync waits (bounded by 30 s, so that a broken test cannot hang forever); once
// released it syncs for real (or fails, after fail_next()). Shared state, so the hook may outlive
// the object.
class StalledSync {
  public:
    StalledSync() : m_state(std::make_shared<State>()) {}

    std::function<int(int)> hook() const {
        return [state = m_state](int fd) {
            {
                std::unique_lock lock(state->mutex);
                ++state->entered;
                state->changed.notify_all();
                state->changed.wait_for(lock, std::chrono::seconds(30),
                                        [&state] { return !state->stalled; });
                if (state->fail_next) {
                    state->fail_next = false;
                    errno = EIO;
                    return -1;
                }
            }
            return ::fdatasync(fd);
        };
    }
    // The next sync to end fails with EIO (once released).
    void fail_next() {
        std::lock_guard lock(m_state->mutex);
        m_state->fail_next = true;
    }
    void stall() {
        std::lock_guard lock(m_state->mutex);
        m_state->stalled = true;
    }
    void release() {
        {
            std::lock_guard lock(m_state->mutex);
            m_state->stalled = false;
        }
        m_state->changed.notify_all();
    }
    // Waits (bounded) until `n` syncs have begun; false when they did not.
    bool wait_entered(int n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
        std::unique_lock lock(m_state->mutex);
        return m_state->changed.wait_for(lock, timeout,
                                         [this, n] { return m_state->entered >= n; });
    }

  private:
    struct State {
        std::mutex mutex;
        std::condition_variable changed;
        bool stalled = true;
        bool fail_next = false;
        int entered = 0;
    };
    std::shared_ptr<State> m_state;
};

} // namespace evrelay::test
