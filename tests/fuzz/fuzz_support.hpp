#pragma once

// What every fuzz target shares: a check that turns a wrong answer into a crash (libFuzzer then
// keeps the input as a finding), silent logs, and the padding simdjson reads past a text.

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

namespace evrelay::fuzz {

// A property of the code under test does not hold: print what and abort (a crash is what
// libFuzzer records).
[[noreturn]] inline void fail(std::string_view check, std::string_view detail) {
    std::fprintf(stderr, "\nfuzz check failed: %.*s\n  %.*s\n", static_cast<int>(check.size()),
                 check.data(), static_cast<int>(detail.size()), detail.data());
    std::fflush(stderr);
    std::abort();
}

// The code logs what it rejects (warnings per malformed line, debug per refused post): at the
// fuzzer's rate that would be all the output there is.
inline void quiet_logs() {
    spdlog::set_default_logger(
        std::make_shared<spdlog::logger>("fuzz", std::make_shared<spdlog::sinks::null_sink_mt>()));
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// A copy of `text` followed by `padding` bytes that look like the continuation of a number or a
// literal, so that a parser reading past the end of the text it was given (into the padding it
// may read but must not interpret) shows as a wrong verdict.
inline std::string with_padding(std::string_view text, std::size_t padding = 64) {
    std::string buffer;
    buffer.reserve(text.size() + padding);
    buffer.append(text);
    buffer.append(padding, '7');
    return buffer;
}

// Cuts the next piece off `input`: the bytes up to `separator` (all of it when absent).
inline std::string_view take_until(std::string_view& input, std::string_view separator) {
    const std::size_t at = input.find(separator);
    if (at == std::string_view::npos) {
        const std::string_view all = input;
        input = {};
        return all;
    }
    const std::string_view piece = input.substr(0, at);
    input.remove_prefix(at + separator.size());
    return piece;
}

} // namespace evrelay::fuzz

#define FUZZ_CHECK(condition, detail)                                                              \
    do {                                                                                           \
        if (!(condition)) {                                                                        \
            ::evrelay::fuzz::fail(#condition, (detail));                                           \
        }                                                                                          \
    } while (false)
