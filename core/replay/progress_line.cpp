#include "core/replay/progress_line.hpp"

#include "core/util/byte_size.hpp"

#include <cmath>
#include <cstdio>

namespace evrelay {

namespace {

std::string format_count(double value) {
    char text[32];
    if (value >= 1e6) {
        std::snprintf(text, sizeof text, "%.2fM", value / 1e6);
    } else if (value >= 1e4) {
        std::snprintf(text, sizeof text, "%.1fk", value / 1e3);
    } else {
        std::snprintf(text, sizeof text, "%.0f", value);
    }
    return text;
}

std::string format_eta(double seconds) {
    char text[32];
    const auto whole = static_cast<long>(std::ceil(seconds));
    if (whole >= 3600) {
        std::snprintf(text, sizeof text, "%ldh%02ldm", whole / 3600, (whole % 3600) / 60);
    } else if (whole >= 60) {
        std::snprintf(text, sizeof text, "%ldm%02lds", whole / 60, whole % 60);
    } else {
        std::snprintf(text, sizeof text, "%lds", whole);
    }
    return text;
}

} // namespace

std::string format_progress_line(const ProgressSnapshot& s) {
    const double seconds = s.elapsed.count();
    std::string line = util::format_byte_size(s.bytes_read);
    if (s.bytes_total > 0) {
        char percent[16];
        std::snprintf(percent, sizeof percent, " (%.0f%%)",
                      100.0 * static_cast<double>(s.bytes_read) /
                          static_cast<double>(s.bytes_total));
        line += " of " + util::format_byte_size(s.bytes_total) + percent;
    }
    line += ", " + format_count(static_cast<double>(s.events)) + " events read, " +
            format_count(static_cast<double>(s.events_sent)) + " sent";
    if (seconds > 0) {
        line += ", " + format_count(static_cast<double>(s.events) / seconds) + " events/s";
        if (s.bytes_total > 0 && s.bytes_read > 0 && s.bytes_read < s.bytes_total) {
            const double rate = static_cast<double>(s.bytes_read) / seconds;
            line += ", ETA " + format_eta(static_cast<double>(s.bytes_total - s.bytes_read) / rate);
        }
    }
    return line;
}

} // namespace evrelay
