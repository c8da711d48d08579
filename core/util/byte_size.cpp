#include "core/util/byte_size.hpp"

#include "core/util/ascii.hpp"

#include <cstdint>
#include <cstdio>
#include <limits>

namespace evrelay::util {

namespace {

tl::unexpected<Error> invalid(std::string_view text, std::string_view why) {
    return make_error(ErrorKind::config,
                      "invalid size '" + std::string(text) + "': " + std::string(why));
}

constexpr std::string_view k_expected_forms =
    "expected a byte count or a number with KiB, MiB, GiB or TiB (e.g. 512KiB, 10MiB, 4GiB)";

struct Suffix {
    std::string_view name;
    unsigned shift;
};
constexpr Suffix k_binary_suffixes[] = {
    {"", 0}, {"B", 0}, {"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40},
};

// Decimal or ambiguous suffixes and the binary one we ask for instead. Refusing them beats
// guessing whether "10M" means 10^7 or 2^20 bytes for a memory limit.
constexpr Suffix k_decimal_suffixes[] = {
    {"K", 10}, {"KB", 10}, {"M", 20}, {"MB", 20}, {"G", 30}, {"GB", 30}, {"T", 40}, {"TB", 40},
};

std::string_view binary_name(unsigned shift) {
    for (const Suffix& suffix : k_binary_suffixes) {
        if (suffix.shift == shift && !suffix.name.empty() && suffix.name != "B") {
            return suffix.name;
        }
    }
    return "B";
}

} // namespace

Result<std::size_t> parse_byte_size(std::string_view original) {
    std::string_view text = trim(original);

    // The number: digits with an optional fraction ("1.5GiB"); fractions need a suffix.
    std::size_t i = 0;
    std::uint64_t integer = 0;
    bool any_digit = false;
    bool overflow = false;
    while (i < text.size() && is_digit(text[i])) {
        const std::uint64_t digit = static_cast<std::uint64_t>(text[i] - '0');
        if (integer > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
            overflow = true;
        } else {
            integer = integer * 10 + digit;
        }
        any_digit = true;
        ++i;
    }
    std::uint64_t fraction = 0;
    std::uint64_t fraction_scale = 1;
    bool has_fraction = false;
    if (i < text.size() && text[i] == '.') {
        has_fraction = true;
        ++i;
        while (i < text.size() && is_digit(text[i])) {
            if (fraction_scale < 1'000'000'000'000'000'000ULL) {
                fraction = fraction * 10 + static_cast<std::uint64_t>(text[i] - '0');
                fraction_scale *= 10;
            }
            any_digit = true;
            ++i;
        }
    }
    if (!any_digit) {
        if (!text.empty() && text.front() == '-') {
            return invalid(original, "must not be negative");
        }
        return invalid(original, k_expected_forms);
    }
    const std::string_view number = text.substr(0, i);
    std::string_view suffix_text = trim(text.substr(i));

    const Suffix* suffix = nullptr;
    for (const Suffix& candidate : k_binary_suffixes) {
        if (iequals(suffix_text, candidate.name)) {
            suffix = &candidate;
            break;
        }
    }
    if (suffix == nullptr) {
        for (const Suffix& candidate : k_decimal_suffixes) {
            if (iequals(suffix_text, candidate.name)) {
                return invalid(original, "use the binary suffix " +
                                             std::string(binary_name(candidate.shift)) + " (" +
                                             std::string(number) +
                                             std::string(binary_name(candidate.shift)) + ")");
            }
        }
        return invalid(original, k_expected_forms);
    }
    if (has_fraction && suffix->shift == 0) {
        return invalid(original, "a byte count must be a whole number");
    }

    using Wide = unsigned __int128;
    const Wide multiplier = static_cast<Wide>(1) << suffix->shift;
    const Wide bytes = static_cast<Wide>(integer) * multiplier +
                       static_cast<Wide>(fraction) * multiplier / fraction_scale;
    if (overflow || bytes > static_cast<Wide>(std::numeric_limits<std::size_t>::max())) {
        return invalid(original, "too large");
    }
    return static_cast<std::size_t>(bytes);
}

std::string format_byte_size(std::size_t bytes) {
    static constexpr std::string_view k_units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024) {
        return std::to_string(bytes) + " B";
    }
    double value = static_cast<double>(bytes);
    std::size_t unit = 0;
    value /= 1024.0;
    while (value >= 1024.0 && unit + 1 < std::size(k_units)) {
        value /= 1024.0;
        ++unit;
    }
    // Up to two decimals, without trailing zeros: "4 MiB", "1.5 GiB", "1.25 KiB".
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.2f", value);
    std::string text = buffer;
    while (text.back() == '0') {
        text.pop_back();
    }
    if (text.back() == '.') {
        text.pop_back();
    }
    return text + " " + std::string(k_units[unit]);
}

} // namespace evrelay::util
