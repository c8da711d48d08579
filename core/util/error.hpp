#pragma once

#include <tl/expected.hpp>

#include <string>

namespace evrelay {

// What a caller branches on when an operation that can routinely fail does fail.
enum class ErrorKind {
    invalid_input, // malformed JSON, bad header, bad file content
    io,            // a file or socket operation failed
    config,        // a configuration value is wrong
    too_large,     // a size limit was exceeded
};

struct Error {
    ErrorKind kind;
    std::string message;
};

template <class T> using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> make_error(ErrorKind kind, std::string message) {
    return tl::unexpected<Error>(Error{kind, std::move(message)});
}

} // namespace evrelay
