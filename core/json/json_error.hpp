#pragma once

#include <tl/expected.hpp>

#include <cstddef>
#include <string>

namespace evrelay {

// A rejected JSON text: where it goes wrong (a byte offset within the text given; its size when
// the text is cut short) and why.
struct JsonError {
    std::size_t offset = 0;
    std::string message;
};

// What the validators of core/json/ return: the value (nothing, for a bare check) or where and
// why the text is rejected. util's Result<T> has no offset, which every caller reports, hence a
// type of its own. Valid text costs no allocation: a JsonError is only built on a rejection.
template <class T> using JsonResult = tl::expected<T, JsonError>;

inline tl::unexpected<JsonError> json_error(std::size_t offset, std::string message) {
    return tl::unexpected<JsonError>(JsonError{offset, std::move(message)});
}

} // namespace evrelay
