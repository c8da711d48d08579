#include "core/spool/spool_drainer.hpp"

#include "core/util/file_lock.hpp"

#include <spdlog/spdlog.h>

namespace evrelay {

SpoolDrainer::SpoolDrainer(SpoolDirectory directory, PayloadSink& sink, SpoolingListener& listener,
                           SpoolDeliveryOptions options, std::chrono::milliseconds interval,
                           std::chrono::milliseconds max_interval)
    : m_directory(directory), m_listener(listener), m_command(options.command),
      m_delivery(std::move(directory), sink, std::move(options),
                 [command = m_command](const InputProblem& problem) {
                     spdlog::warn("{}: {}:{}: (byte {}) {}; kept in bad/", command, problem.file,
                                  problem.line, problem.offset, problem.message);
                 }),
      m_interval(interval), m_max_interval(std::max(interval, max_interval)) {
    m_listener.set_delivery(&m_delivery);
    m_thread = std::thread([this] { loop(); });
}

SpoolDrainer::~SpoolDrainer() {
    stop(std::chrono::milliseconds::zero());
    m_listener.set_delivery(nullptr);
}

void SpoolDrainer::wake() {
    {
        std::lock_guard lock(m_mutex);
        m_woken = true;
    }
    m_wake.notify_all();
}

void SpoolDrainer::stop(std::chrono::milliseconds grace) {
    {
        std::lock_guard lock(m_mutex);
        if (m_stopping && !m_thread.joinable()) {
            return;
        }
        m_stopping = true;
    }
    m_delivery.request_stop(grace);
    m_wake.notify_all();
    if (m_thread.joinable()) {
        m_thread.join();
    }
}

void SpoolDrainer::finish(std::chrono::milliseconds grace) {
    std::unique_lock lock(m_mutex);
    if (!m_thread.joinable()) {
        return;
    }
    m_final = true;
    m_woken = true;
    m_wake.notify_all();
    if (!m_wake.wait_for(lock, grace, [this] { return m_finished; })) {
        lock.unlock();
        stop(std::chrono::milliseconds::zero());
        return;
    }
    lock.unlock();
    m_thread.join();
}

std::uint64_t SpoolDrainer::payloads_delivered() const {
    return m_stats.payloads_delivered.load();
}

void SpoolDrainer::loop() {
    std::chrono::milliseconds wait = m_interval;
    // The first pass comes at once: segments left by an earlier run are delivered at start.
    bool due = true;
    bool last = false;
    while (!last) {
        {
            std::unique_lock lock(m_mutex);
            if (!due) {
                m_wake.wait_for(lock, wait, [this] { return m_woken || m_stopping; });
            }
            due = false;
            if (m_stopping) {
                break;
            }
            if (m_woken) {
                wait = m_interval; // something changed: try at the normal pace again
            }
            m_woken = false;
            last = m_final;
        }
        if (m_directory.closed_segments().empty() && m_directory.incoming_files().empty()) {
            continue;
        }
        auto lock = util::FileLock::acquire(m_directory.delivery_lock_path().string(),
                                            std::chrono::milliseconds::zero());
        if (!lock) {
            spdlog::error("{}: {}", m_command, lock.error().message);
            continue;
        }
        if (!lock->has_value()) {
            spdlog::debug("{}: another process is delivering the spool; skipping this round",
                          m_command);
            continue;
        }
        const std::uint64_t delivered_before = m_stats.payloads_delivered.load();
        const std::uint64_t kept_before = m_stats.payloads_kept.load();
        m_delivery.run(m_stats);
        const std::uint64_t delivered = m_stats.payloads_delivered.load() - delivered_before;
        const std::uint64_t kept = m_stats.payloads_kept.load() - kept_before;
        if (delivered > 0) {
            spdlog::info("{}: delivered {} payload(s) from the spool{}", m_command, delivered,
                         kept > 0 ? fmt::format("; {} kept for later", kept) : std::string());
        }
        wait = delivered == 0 && kept > 0 ? std::min(wait * 2, m_max_interval) : m_interval;
    }
    {
        std::lock_guard lock(m_mutex);
        m_finished = true;
    }
    m_wake.notify_all();
}

} // namespace evrelay
