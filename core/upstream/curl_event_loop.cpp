#include "core/upstream/curl_event_loop.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <sys/eventfd.h>
#include <unistd.h>

namespace evrelay {

// libcurl's global state is set up by main() (cli/main.cpp) before any thread exists; see there.
CurlEventLoop::CurlEventLoop(std::size_t max_connections) : m_multi(curl_multi_init()) {
    if (!m_multi) {
        throw std::runtime_error("sender: curl_multi_init failed");
    }
    CURLM* multi = m_multi.get();
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(max_connections));
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(max_connections));
    m_epoll = util::Fd(::epoll_create1(EPOLL_CLOEXEC));
    m_wakeup = util::Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = m_wakeup.get();
    if (!m_epoll || !m_wakeup ||
        ::epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, m_wakeup.get(), &event) != 0) {
        throw std::runtime_error(std::string("sender: cannot create the event loop: ") +
                                 std::strerror(errno));
    }
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(
        multi, CURLMOPT_SOCKETFUNCTION,
        +[](CURL*, curl_socket_t socket, int what, void* self, void* assigned) -> int {
            return static_cast<CurlEventLoop*>(self)->on_socket(socket, what, assigned != nullptr);
        });
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
    curl_multi_setopt(
        multi, CURLMOPT_TIMERFUNCTION, +[](CURLM*, long timeout_ms, void* self) -> int {
            auto* loop = static_cast<CurlEventLoop*>(self);
            if (timeout_ms < 0) {
                loop->m_timer_due.reset();
            } else {
                loop->m_timer_due = Clock::now() + std::chrono::milliseconds(timeout_ms);
            }
            return 0;
        });
}

Result<void> CurlEventLoop::add(CURL* easy) {
    const CURLMcode code = curl_multi_add_handle(m_multi.get(), easy);
    if (code != CURLM_OK) {
        return make_error(ErrorKind::io, std::string("curl_multi_add_handle failed: ") +
                                             curl_multi_strerror(code));
    }
    return {};
}

void CurlEventLoop::remove(CURL* easy) {
    curl_multi_remove_handle(m_multi.get(), easy);
}

void CurlEventLoop::wake() {
    const std::uint64_t one = 1;
    (void)!::write(m_wakeup.get(), &one, sizeof one);
}

std::chrono::milliseconds CurlEventLoop::timeout_within(std::chrono::milliseconds limit) const {
    if (!m_timer_due) {
        return limit;
    }
    const auto until_due =
        std::chrono::ceil<std::chrono::milliseconds>(*m_timer_due - Clock::now());
    return std::clamp(until_due, std::chrono::milliseconds(0), limit);
}

void CurlEventLoop::wait(std::chrono::milliseconds timeout) {
    const int count =
        ::epoll_wait(m_epoll.get(), m_events.data(), static_cast<int>(m_events.size()),
                     static_cast<int>(timeout.count()));
    for (int i = 0; i < count; ++i) {
        const epoll_event& event = m_events[static_cast<std::size_t>(i)];
        if (event.data.fd == m_wakeup.get()) {
            std::uint64_t value = 0;
            (void)!::read(m_wakeup.get(), &value, sizeof value);
            continue;
        }
        int bits = 0;
        bits |= (event.events & EPOLLIN) != 0 ? CURL_CSELECT_IN : 0;
        bits |= (event.events & EPOLLOUT) != 0 ? CURL_CSELECT_OUT : 0;
        bits |= (event.events & (EPOLLERR | EPOLLHUP)) != 0 ? CURL_CSELECT_ERR : 0;
        curl_multi_socket_action(m_multi.get(), event.data.fd, bits, &m_running);
    }
    if (m_timer_due && *m_timer_due <= Clock::now()) {
        m_timer_due.reset(); // curl sets it again from within the call when it needs to
        curl_multi_socket_action(m_multi.get(), CURL_SOCKET_TIMEOUT, 0, &m_running);
    }
}

int CurlEventLoop::on_socket(curl_socket_t socket, int what, bool watched) {
    epoll_event event{};
    event.data.fd = socket;
    if (what == CURL_POLL_REMOVE) {
        ::epoll_ctl(m_epoll.get(), EPOLL_CTL_DEL, socket, &event);
        return 0;
    }
    event.events =
        ((what & CURL_POLL_IN) != 0 ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) != 0 ? EPOLLOUT : 0u);
    if (::epoll_ctl(m_epoll.get(), watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, socket, &event) != 0) {
        spdlog::error("sender: cannot watch a socket: {}", std::strerror(errno));
        return -1;
    }
    if (!watched) {
        // Remembered by curl with the socket (until it is removed): the next call modifies.
        curl_multi_assign(m_multi.get(), socket, this);
    }
    return 0;
}

} // namespace evrelay
