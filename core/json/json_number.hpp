#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace evrelay {

// The value of a JSON number token (validated text) as an integer: integers directly, and
// numbers written with a fraction or an exponent when their value is whole and fits (an SDK
// written in JavaScript or Go may write 1700000000000 as 1.7e+12). nullopt otherwise.
std::optional<std::int64_t> json_number_as_int64(std::string_view number);

// The value of a JSON number token as a double; nullopt when out of a double's range.
std::optional<double> json_number_as_double(std::string_view number);

} // namespace evrelay
