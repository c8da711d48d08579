#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace evrelay {

// Decides how long a replay waits before publishing the next events (SPEC §5): --rate N events
// per second, or --speed X times the recorded pace of envelope timestamps. Pure: the caller
// sleeps, so it can be tested without a clock.
class Pacer {
  public:
    using Clock = std::chrono::steady_clock;

    static Pacer unlimited() { return Pacer(); }
    static Pacer events_per_second(double rate);
    static Pacer recorded_speed(double factor);

    // When the events of an item may be published: `events` is its event count, `recorded` its
    // envelope timestamp when it has one. Call in input order; `now` is the current time.
    Clock::time_point release_time(std::uint64_t events,
                                   std::optional<std::chrono::system_clock::time_point> recorded,
                                   Clock::time_point now);

  private:
    enum class Mode { unlimited, rate, speed };
    Mode m_mode = Mode::unlimited;
    double m_value = 0;
    std::optional<Clock::time_point> m_start;
    std::optional<std::chrono::system_clock::time_point> m_first_recorded;
    std::uint64_t m_events_released = 0;
};

} // namespace evrelay
