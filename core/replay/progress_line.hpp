#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace evrelay {

// One progress line for a terminal (SPEC §5): bytes read (of the total when known), events,
// events/s and an ETA when the total is known. Pure formatting, so it can be tested.
struct ProgressSnapshot {
    std::uint64_t bytes_read = 0;
    std::uint64_t bytes_total = 0; // 0 when unknown (stdin, pipes)
    std::uint64_t events = 0;
    std::uint64_t events_sent = 0;
    std::chrono::duration<double> elapsed{0};
};

std::string format_progress_line(const ProgressSnapshot& snapshot);

} // namespace evrelay
