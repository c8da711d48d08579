#pragma once

#include "core/util/error.hpp"

#include <chrono>
#include <string>
#include <string_view>

namespace evrelay::util {

// Parses Relay's duration forms: "500ms", "5s", "1m", "2h", combinations such as "1m30s",
// and a bare number meaning seconds ("5", "0.5").
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// "1.5s", "250ms", "2m" — the shortest exact form, for messages.
std::string format_duration(std::chrono::milliseconds d);

} // namespace evrelay::util
