#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace evrelay {

// Finds the byte spans of the parts of JSON text that is ALREADY VALIDATED (by simdjson's DOM
// parser): the elements of an array, the members of an object. A second full parse only to learn
// where things are would cost more than the validation itself; on valid JSON a scan that tracks
// strings and nesting is exact. On invalid input the results are unspecified (but memory-safe).

// Position just past the closing quote of the string whose opening quote is at `quote`.
// Returns text.size() when the string is unterminated.
std::size_t skip_json_string(std::string_view text, std::size_t quote);

// Each element of the array `json` (leading/trailing whitespace allowed), trimmed; nullopt when
// `json` is not an array.
std::optional<std::vector<std::string_view>> array_element_spans(std::string_view json);

// The value of member `key` (compared with its raw, still-escaped spelling) of the object `json`,
// trimmed; empty when absent or when `json` is not an object.
std::string_view object_member_span(std::string_view json, std::string_view key);

// Appends `json` (validated) without its whitespace outside strings: the compact form the
// summariser writes (an SDK may pretty-print, and a value is often copied into many events).
void append_compact_json(std::string& out, std::string_view json);

} // namespace evrelay
