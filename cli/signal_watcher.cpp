#include "signal_watcher.hpp"

#include <cerrno>
#include <ctime>
#include <pthread.h>

namespace evrelay {

void block_handled_signals() {
    sigset_t set;
    sigemptyset(&set);
    for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGUSR1}) {
        sigaddset(&set, signal);
    }
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

SignalWatcher::SignalWatcher(std::initializer_list<int> signals, std::function<void(int)> handler)
    : m_signals(signals), m_handler(std::move(handler)) {
    m_thread = std::thread([this] {
        sigset_t set;
        sigemptyset(&set);
        for (int signal : m_signals) {
            sigaddset(&set, signal);
        }
        // sigtimedwait takes only signals blocked in the waiting thread: main() blocked them
        // before any thread started (block_handled_signals), and this makes sure of it here.
        pthread_sigmask(SIG_BLOCK, &set, nullptr);
        // A short timeout instead of a wake-up pipe: the watcher only has to notice m_stopping.
        const timespec timeout{0, 100'000'000};
        while (!m_stopping.load()) {
            const int signal = sigtimedwait(&set, nullptr, &timeout);
            if (signal > 0) {
                m_handler(signal);
            }
        }
    });
}

SignalWatcher::~SignalWatcher() {
    m_stopping.store(true);
    m_thread.join();
}

} // namespace evrelay
