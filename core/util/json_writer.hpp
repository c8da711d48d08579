#pragma once

#include <string>
#include <string_view>

namespace evrelay::util {

// Appends `text` as a JSON string literal (with quotes) to `out`, escaping what RFC 8259 requires:
// '"', '\\' and control characters (\n \r \t \b \f in short form, others as \u00XX).
// Well-formed UTF-8 is copied unchanged; ill-formed bytes become \ufffd so the output is valid
// JSON.
void append_json_string(std::string& out, std::string_view text);

} // namespace evrelay::util
