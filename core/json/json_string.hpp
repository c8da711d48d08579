#pragma once

#include <string>
#include <string_view>

namespace evrelay {

// The value of a JSON string token's contents (between the quotes, as in JsonPart::key),
// escapes decoded (a lone UTF-16 surrogate becomes U+FFFD, as in Go); `raw` must come from
// validated JSON.
std::string json_string_value(std::string_view raw);

} // namespace evrelay
