#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace evrelay {

// Finds where a JSON text first goes wrong, byte by byte: the offset of the first invalid byte
// (the text's size when it is cut short), or nothing when this walk finds no problem (e.g. the
// depth limit). Follows RFC 8259 and checks UTF-8 as simdjson does. JsonValidator runs it only
// on text it has already rejected, to give the user an exact offset: it is the slow path.
std::optional<std::size_t> locate_json_error(std::string_view json);

} // namespace evrelay
