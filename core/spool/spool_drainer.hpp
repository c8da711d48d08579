#pragma once

#include "core/spool/spool_delivery.hpp"
#include "core/spool/spooling_listener.hpp"

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace evrelay {

// A forwarding serve's background delivery of its own spool (SPEC §7): every `interval`, and at
// once when woken (a segment was closed, SIGHUP changed credentials), it takes the spool's
// delivery lock without waiting — a running `flush` has it otherwise, and then this round is
// skipped — and runs one SpoolDelivery pass. Its log lines and its passes' start with
// options.command (serve sets "serve"). A pass that delivered nothing (the upstream is down
// or refuses the credential) doubles the wait, up to `max_interval`, so that a large spool is not
// re-read every few seconds while the upstream is away. One thread.
class SpoolDrainer {
  public:
    SpoolDrainer(SpoolDirectory directory, PayloadSink& sink, SpoolingListener& listener,
                 SpoolDeliveryOptions options, std::chrono::milliseconds interval,
                 std::chrono::milliseconds max_interval = std::chrono::minutes(1));
    ~SpoolDrainer(); // stop(0)
    SpoolDrainer(const SpoolDrainer&) = delete;
    SpoolDrainer& operator=(const SpoolDrainer&) = delete;

    void wake();
    // Runs one last pass now (after the pass in hand) and ends the thread; when `grace` runs out
    // first, stops that pass as stop(0) does. serve --durable's shutdown: its posts are in the
    // spool, so delivering them at SIGTERM is what flushing the queues is without --durable.
    void finish(std::chrono::milliseconds grace);
    // Ends the pass in hand (waiting up to `grace` for its payloads in flight) and the thread.
    // Call before the sink stops; the SpoolDelivery stays alive until destruction, so late
    // outcomes of its payloads still find it.
    void stop(std::chrono::milliseconds grace);

    std::uint64_t payloads_delivered() const;

  private:
    void loop();

    SpoolDirectory m_directory;
    SpoolingListener& m_listener;
    std::string m_command; // options.command: the prefix of its log lines
    SpoolDelivery m_delivery;
    SpoolDeliveryStats m_stats;
    std::chrono::milliseconds m_interval, m_max_interval;

    std::mutex m_mutex;
    std::condition_variable m_wake;
    bool m_woken = false;
    bool m_stopping = false;
    bool m_final = false;    // the next pass is the last
    bool m_finished = false; // the thread has ended
    std::thread m_thread;
};

} // namespace evrelay
