#pragma once

#include "core/upstream/curl_handles.hpp"
#include "core/util/error.hpp"
#include "core/util/fd.hpp"

#include <curl/curl.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <optional>
#include <sys/epoll.h>

namespace evrelay {

// libcurl's multi interface driven through its socket interface on epoll: epoll tells which
// connection is ready and curl looks at that one transfer only. (curl_multi_perform looks at
// every running transfer each time, polling each socket once more: with 16 requests in flight
// and one answer arriving at a time, most of a small request's cost.) Also waits for curl's
// timer and for wake-ups from other threads (an eventfd).
//
// Knows nothing of payloads: it runs the easy handles it is given until curl says they are done.
// Used by one thread, but for wake().
class CurlEventLoop {
  public:
    using Clock = std::chrono::steady_clock;

    // Throws std::runtime_error when the multi handle, the epoll instance or the eventfd cannot
    // be made (at start-up).
    explicit CurlEventLoop(std::size_t max_connections);
    CurlEventLoop(const CurlEventLoop&) = delete; // curl keeps `this`
    CurlEventLoop& operator=(const CurlEventLoop&) = delete;

    // Starts running `easy`; it stays in the loop until remove().
    Result<void> add(CURL* easy);
    void remove(CURL* easy);

    // From any thread: ends the current (or the next) wait() early.
    void wake();

    // `limit`, or less when curl's own timer is due sooner.
    std::chrono::milliseconds timeout_within(std::chrono::milliseconds limit) const;

    // Waits up to `timeout` for a ready socket, a wake-up or curl's timer, and lets curl act on
    // the sockets that are ready and on its timer when it is due.
    void wait(std::chrono::milliseconds timeout);

    // Calls done(CURL* easy, CURLcode result) for every transfer curl has finished since the
    // last call (done may remove() it); returns whether there was any.
    template <class Done> bool take_finished(Done&& done);

  private:
    // CURLMOPT_SOCKETFUNCTION: what curl wants to know about a socket, kept in m_epoll.
    int on_socket(curl_socket_t socket, int what, bool watched);

    util::Fd m_epoll;                             // the sockets curl asked to watch, and m_wakeup
    util::Fd m_wakeup;                            // eventfd
    std::optional<Clock::time_point> m_timer_due; // CURLMOPT_TIMERFUNCTION's
    std::array<epoll_event, 64> m_events{};
    int m_running = 0;
    // Declared last, so cleaned up first: curl_multi_cleanup may still call the callbacks.
    MultiHandle m_multi;
};

template <class Done> bool CurlEventLoop::take_finished(Done&& done) {
    int queued = 0;
    bool any = false;
    while (CURLMsg* message = curl_multi_info_read(m_multi.get(), &queued)) {
        if (message->msg != CURLMSG_DONE) {
            continue;
        }
        // Both read before done() runs: removing the handle invalidates the message.
        CURL* const easy = message->easy_handle;
        const CURLcode result = message->data.result;
        done(easy, result);
        any = true;
    }
    return any;
}

} // namespace evrelay
