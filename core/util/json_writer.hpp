#pragma once

#include <string>
#include <string_view>

namespace evrelay::util {

// Appends `text` as a JSON string literal (with quotes) to `out`, escaping what RFC 8259 requires.
void append_json_string(std::string& out, std::string_view text);

} // namespace evrelay::util
