#include "core/util/duration.hpp"

#include "core/util/ascii.hpp"

#include <cstdint>
#include <limits>

namespace evrelay::util {

namespace {

constexpr std::uint64_t k_ns_per_us = 1000;
constexpr std::uint64_t k_ns_per_ms = 1000 * k_ns_per_us;
constexpr std::uint64_t k_ns_per_s = 1000 * k_ns_per_ms;
constexpr std::uint64_t k_ns_per_m = 60 * k_ns_per_s;
constexpr std::uint64_t k_ns_per_h = 60 * k_ns_per_m;

// Go's time.ParseDuration keeps at most this many fraction digits significant; later digits are
// below a nanosecond for every unit anyway.
constexpr int k_max_fraction_digits = 18;

struct Number {
    std::uint64_t integer = 0;
    std::uint64_t fraction = 0;       // the kept fraction digits as an integer
    std::uint64_t fraction_scale = 1; // 10^(number of kept fraction digits)
};

// Parses "12", "1.5", ".5" at the front of `text`; false if there is no digit or it overflows.
bool parse_number(std::string_view& text, Number& number) {
    std::size_t i = 0;
    bool any_digit = false;
    while (i < text.size() && is_digit(text[i])) {
        const std::uint64_t digit = static_cast<std::uint64_t>(text[i] - '0');
        if (number.integer > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
            return false;
        }
        number.integer = number.integer * 10 + digit;
        any_digit = true;
        ++i;
    }
    if (i < text.size() && text[i] == '.') {
        ++i;
        int kept = 0;
        while (i < text.size() && is_digit(text[i])) {
            if (kept < k_max_fraction_digits) {
                number.fraction = number.fraction * 10 + static_cast<std::uint64_t>(text[i] - '0');
                number.fraction_scale *= 10;
                ++kept;
            }
            any_digit = true;
            ++i;
        }
    }
    text.remove_prefix(i);
    return any_digit;
}

// Matches a unit at the front of `text` ("ms" before "m"), returning its length in nanoseconds.
std::uint64_t parse_unit(std::string_view& text) {
    struct Unit {
        std::string_view name;
        std::uint64_t ns;
    };
    static constexpr Unit k_units[] = {
        {"ns", 1},
        {"us", k_ns_per_us},
        {"\xC2\xB5s", k_ns_per_us}, // U+00B5 micro sign, as Go accepts
        {"\xCE\xBCs", k_ns_per_us}, // U+03BC Greek mu
        {"ms", k_ns_per_ms},
        {"s", k_ns_per_s},
        {"m", k_ns_per_m},
        {"h", k_ns_per_h},
    };
    for (const Unit& unit : k_units) {
        if (text.substr(0, unit.name.size()) == unit.name) {
            text.remove_prefix(unit.name.size());
            return unit.ns;
        }
    }
    return 0;
}

// value * unit_ns in nanoseconds, or false on overflow of int64 nanoseconds (~292 years).
bool to_nanoseconds(const Number& number, std::uint64_t unit_ns, std::uint64_t& out) {
    using Wide = unsigned __int128;
    const Wide whole = static_cast<Wide>(number.integer) * unit_ns;
    const Wide part = static_cast<Wide>(number.fraction) * unit_ns / number.fraction_scale;
    const Wide total = whole + part;
    if (total > static_cast<Wide>(std::numeric_limits<std::int64_t>::max())) {
        return false;
    }
    out = static_cast<std::uint64_t>(total);
    return true;
}

tl::unexpected<Error> invalid(std::string_view text, std::string_view why) {
    return make_error(ErrorKind::config,
                      "invalid duration '" + std::string(text) + "': " + std::string(why));
}

constexpr std::string_view k_expected_forms =
    "expected a number with a unit (ns, us, ms, s, m, h) such as 500ms, 5s or 1m30s, or a "
    "number of seconds";

} // namespace

Result<std::chrono::milliseconds> parse_duration(std::string_view original) {
    std::string_view text = trim(original);
    if (text.empty()) {
        return invalid(original, k_expected_forms);
    }
    if (text.front() == '-') {
        return invalid(original, "must not be negative");
    }
    if (text.front() == '+') {
        text.remove_prefix(1);
    }

    std::uint64_t total_ns = 0;
    bool first = true;
    while (!text.empty()) {
        Number number;
        if (!parse_number(text, number)) {
            return invalid(original, k_expected_forms);
        }
        std::uint64_t unit_ns = parse_unit(text);
        if (unit_ns == 0) {
            // Relay (and SPEC §11) take a bare number as seconds; only as the whole value, since
            // "1m30" is more likely a typo than "1m30s".
            if (first && text.empty()) {
                unit_ns = k_ns_per_s;
            } else {
                return invalid(original, k_expected_forms);
            }
        }
        std::uint64_t ns = 0;
        if (!to_nanoseconds(number, unit_ns, ns) ||
            ns > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) - total_ns) {
            return invalid(original, "too large");
        }
        total_ns += ns;
        first = false;
    }

    const std::uint64_t ms = total_ns / k_ns_per_ms;
    if (ms == 0 && total_ns != 0) {
        // A timeout that silently became 0 would usually mean "no timeout" or "spin".
        return invalid(original, "shorter than the 1ms resolution");
    }
    return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

std::string format_duration(std::chrono::milliseconds d) {
    std::int64_t ms = d.count();
    if (ms == 0) {
        return "0s";
    }
    std::string out;
    std::uint64_t rest = 0;
    if (ms < 0) {
        out += '-';
        rest = static_cast<std::uint64_t>(-(ms + 1)) + 1; // no overflow for INT64_MIN
    } else {
        rest = static_cast<std::uint64_t>(ms);
    }
    if (rest < 1000) {
        return out + std::to_string(rest) + "ms";
    }
    const std::uint64_t hours = rest / 3'600'000;
    rest %= 3'600'000;
    const std::uint64_t minutes = rest / 60'000;
    rest %= 60'000;
    const std::uint64_t seconds = rest / 1000;
    const std::uint64_t millis = rest % 1000;
    if (hours != 0) {
        out += std::to_string(hours) + "h";
    }
    if (minutes != 0) {
        out += std::to_string(minutes) + "m";
    }
    if (seconds != 0 || millis != 0) {
        out += std::to_string(seconds);
        if (millis != 0) {
            std::string fraction = std::to_string(millis + 1000).substr(1); // zero-padded
            while (fraction.back() == '0') {
                fraction.pop_back();
            }
            out += "." + fraction;
        }
        out += "s";
    }
    return out;
}

} // namespace evrelay::util
