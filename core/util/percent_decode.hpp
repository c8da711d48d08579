#pragma once

#include <string>
#include <string_view>

namespace evrelay::util {

// RFC 3986 percent-decoding (a query parameter, a URL's userinfo). A "%" not followed by two hex
// digits stays as written — what a user typed unencoded is taken literally, not refused.
std::string percent_decode(std::string_view text);

} // namespace evrelay::util
