#include "progress_display.hpp"

#include <cstdio>

namespace evrelay {

ProgressDisplay::ProgressDisplay(std::function<ProgressSnapshot()> snapshot)
    : m_snapshot(std::move(snapshot)), m_thread([this] { loop(); }) {}

ProgressDisplay::~ProgressDisplay() {
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
    }
    m_wake.notify_all();
    m_thread.join();
    std::fputs("\r\x1b[K", stderr);
}

void ProgressDisplay::loop() {
    std::unique_lock lock(m_mutex);
    while (!m_wake.wait_for(lock, std::chrono::milliseconds(250), [this] { return m_stopping; })) {
        const std::string line = "\r" + format_progress_line(m_snapshot()) + "\x1b[K";
        std::fputs(line.c_str(), stderr);
        std::fflush(stderr);
    }
}

std::string format_elapsed(std::chrono::duration<double> elapsed) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2fs", elapsed.count());
    return text;
}

} // namespace evrelay
