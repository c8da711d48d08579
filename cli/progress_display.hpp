#pragma once

#include "core/replay/progress_line.hpp"

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace evrelay {

// Redraws a progress line on stderr four times a second until destroyed, then erases it so that
// the summary line stands alone (replay, flush).
class ProgressDisplay {
  public:
    explicit ProgressDisplay(std::function<ProgressSnapshot()> snapshot);
    ~ProgressDisplay();
    ProgressDisplay(const ProgressDisplay&) = delete;
    ProgressDisplay& operator=(const ProgressDisplay&) = delete;

  private:
    void loop();

    std::function<ProgressSnapshot()> m_snapshot;
    std::mutex m_mutex;
    std::condition_variable m_wake;
    bool m_stopping = false;
    std::thread m_thread;
};

// "12.34s", the elapsed time of a summary line.
std::string format_elapsed(std::chrono::duration<double> elapsed);

} // namespace evrelay
