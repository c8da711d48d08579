#include "core/replay/pacer.hpp"

namespace evrelay {

Pacer Pacer::events_per_second(double rate) {
    Pacer pacer;
    pacer.m_mode = Mode::rate;
    pacer.m_value = rate;
    return pacer;
}

Pacer Pacer::recorded_speed(double factor) {
    Pacer pacer;
    pacer.m_mode = Mode::speed;
    pacer.m_value = factor;
    return pacer;
}

Pacer::Clock::time_point
Pacer::release_time(std::uint64_t events,
                    std::optional<std::chrono::system_clock::time_point> recorded,
                    Clock::time_point now) {
    if (!m_start) {
        m_start = now;
    }
    switch (m_mode) {
    case Mode::unlimited:
        return now;
    case Mode::rate: {
        // The first event goes at once; event n (0-based) goes n / rate seconds after the start,
        // so the average never exceeds the rate however the input is grouped.
        const double seconds = static_cast<double>(m_events_released) / m_value;
        m_events_released += events;
        return *m_start +
               std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    }
    case Mode::speed: {
        if (!recorded) {
            return now;
        }
        if (!m_first_recorded) {
            m_first_recorded = recorded;
        }
        const auto recorded_offset = *recorded - *m_first_recorded;
        if (recorded_offset.count() <= 0) {
            return *m_start;
        }
        const auto scaled = std::chrono::duration<double>(recorded_offset) / m_value;
        return *m_start + std::chrono::duration_cast<Clock::duration>(scaled);
    }
    }
    return now;
}

} // namespace evrelay
