#pragma once

#include "core/util/error.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace evrelay::util {

// Parses a byte count ("1048576") or a number with a binary suffix ("10MiB", "4GiB", "512KiB",
// also "B"). Decimal suffixes (MB) are rejected with a message naming the binary form.
Result<std::size_t> parse_byte_size(std::string_view text);

// "4 MiB", "1.5 GiB", "812 B" — for messages and summaries.
std::string format_byte_size(std::size_t bytes);

} // namespace evrelay::util
