#pragma once

#include "core/util/ascii.hpp"

// The small facts of JSON's syntax (RFC 8259) that the validator, its error locator, the
// scanners of core/json/ and the readers of core/input/ share.

namespace evrelay::json_syntax {

// Nesting deeper than this is refused, as simdjson's DOM parser refuses it.
inline constexpr int k_max_depth = 1024;

// JSON's four blanks: the ASCII helpers' is_space.
using util::is_space;

// The letters that may follow a backslash in a JSON string ('u' then takes four hex digits).
inline bool is_escape_letter(char c) {
    return c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' ||
           c == 't';
}

inline bool is_hex(unsigned char c) {
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

} // namespace evrelay::json_syntax
