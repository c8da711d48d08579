#include "core/json/json_number.hpp"

#include <charconv>
#include <cmath>

namespace evrelay {

std::optional<std::int64_t> json_number_as_int64(std::string_view number) {
    std::int64_t value = 0;
    const char* end = number.data() + number.size();
    const auto [ptr, error] = std::from_chars(number.data(), end, value);
    if (error == std::errc{} && ptr == end) {
        return value;
    }
    const std::optional<double> real = json_number_as_double(number);
    // 2^63 is exactly representable: a double below it converts without overflow.
    constexpr double k_limit = 9223372036854775808.0;
    if (!real || *real != std::trunc(*real) || *real >= k_limit || *real < -k_limit) {
        return std::nullopt;
    }
    return static_cast<std::int64_t>(*real);
}

std::optional<double> json_number_as_double(std::string_view number) {
    double value = 0;
    const char* end = number.data() + number.size();
    const auto [ptr, error] = std::from_chars(number.data(), end, value);
    if (error != std::errc{} || ptr != end) {
        return std::nullopt;
    }
    return value;
}

} // namespace evrelay
