#pragma once

#include <atomic>
#include <csignal>
#include <functional>
#include <initializer_list>
#include <thread>
#include <vector>

namespace evrelay {

// Blocks the signals evrelay handles in the calling thread; main() calls it before any thread
// starts, so every thread inherits the mask and the signals wait for a SignalWatcher instead of
// interrupting (or killing) a worker thread at a random point.
void block_handled_signals();

// Delivers blocked signals to a handler on a thread of its own (sigtimedwait), so the handler may
// take locks and log — which a real signal handler may not. (asio::signal_set would not do:
// it installs a real handler, which never runs for a blocked signal.) The process's one way of
// taking signals: serve's handler hands each signal to the server loop (HttpServer::post).
// Stops and joins in its destructor.
class SignalWatcher {
  public:
    SignalWatcher(std::initializer_list<int> signals, std::function<void(int)> handler);
    ~SignalWatcher();
    SignalWatcher(const SignalWatcher&) = delete;
    SignalWatcher& operator=(const SignalWatcher&) = delete;

  private:
    std::vector<int> m_signals;
    std::function<void(int)> m_handler;
    std::atomic<bool> m_stopping{false};
    std::thread m_thread;
};

} // namespace evrelay
