#pragma once

#include <cstddef>
#include <string_view>

// ASCII text helpers shared by the parsers of flags, config files, headers and JSON. Locale-free
// on purpose: <cctype> depends on the C locale and takes int, and every format evrelay reads
// (JSON, HTTP headers, Relay's config, Go durations) defines its blanks and letters in ASCII.
namespace evrelay::util {

// The four blanks of JSON (RFC 8259 "insignificant whitespace"), which are also what a config
// value, a flag or a line may be padded with.
constexpr bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// HTTP's optional whitespace around a header value (RFC 9110 OWS): space and tab only.
constexpr bool is_ows(char c) {
    return c == ' ' || c == '\t';
}

constexpr bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

constexpr char to_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr std::string_view trim_left(std::string_view text, bool (*blank)(char) = is_space) {
    while (!text.empty() && blank(text.front())) {
        text.remove_prefix(1);
    }
    return text;
}

constexpr std::string_view trim_right(std::string_view text, bool (*blank)(char) = is_space) {
    while (!text.empty() && blank(text.back())) {
        text.remove_suffix(1);
    }
    return text;
}

// `text` without the blanks (is_space unless told otherwise) at either end.
constexpr std::string_view trim(std::string_view text, bool (*blank)(char) = is_space) {
    return trim_right(trim_left(text, blank), blank);
}

// True when `text` is empty or only blanks.
constexpr bool is_blank(std::string_view text) {
    return trim_left(text).empty();
}

// Case-insensitive (ASCII letters only) equality and prefix test.
constexpr bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (to_lower(a[i]) != to_lower(b[i])) {
            return false;
        }
    }
    return true;
}

constexpr bool istarts_with(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

} // namespace evrelay::util
