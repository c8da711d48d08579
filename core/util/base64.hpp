#pragma once

#include "core/util/error.hpp"

#include <string>
#include <string_view>

namespace evrelay::util {

// Decodes base64 in either alphabet: standard (RFC 4648 §4, '+' '/') or URL-safe (§5, '-' '_'),
// with or without '=' padding. Browser SDKs send the image beacon's `d=` parameter URL-safe and
// unpadded, older ones standard; accepting both costs nothing. Whitespace and any other byte
// are rejected (ErrorKind::invalid_input, naming the offset).
Result<std::string> decode_base64(std::string_view text);

// Standard alphabet with padding (tests and diagnostics).
std::string encode_base64(std::string_view bytes);

} // namespace evrelay::util
