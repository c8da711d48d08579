#pragma once

#include <string>
#include <string_view>

namespace evrelay {

// The value of a JSON string token's contents (between the quotes, as in JsonPart::key),
// escapes decoded (a lone UTF-16 surrogate becomes U+FFFD, as in Go); `raw` must come from
// validated JSON.
std::string json_string_value(std::string_view raw);

// The same value without a copy when it needs none: `raw` itself when it holds no backslash,
// else `scratch`, which receives the decoded text (and keeps its capacity for the next call).
std::string_view json_string_view(std::string_view raw, std::string& scratch);

} // namespace evrelay
