#include "core/input/input_format.hpp"

#include "core/input/format_reader.hpp"
#include "core/json/json_syntax.hpp"

#include <algorithm>

namespace evrelay {

namespace {

// Looks at the top-level member names of an object that may be cut short (the first line of a
// detection head); JSON well-formedness is checked later, line by line.
struct TopLevelKeys {
    bool v = false;
    bool events = false;
    bool complete = false;
};

TopLevelKeys scan_top_level_keys(std::string_view object) {
    TopLevelKeys keys;
    int depth = 0;
    bool expect_key = false;
    for (std::size_t i = 0; i < object.size(); ++i) {
        const char c = object[i];
        if (c == '"') {
            std::size_t end = i + 1;
            while (end < object.size() && object[end] != '"') {
                end += object[end] == '\\' ? 2 : 1;
            }
            if (end >= object.size()) {
                return keys;
            }
            if (depth == 1 && expect_key) {
                const std::string_view name = object.substr(i + 1, end - i - 1);
                keys.v = keys.v || name == "v";
                keys.events = keys.events || name == "events" || name == "event";
                expect_key = false;
            }
            i = end;
        } else if (c == '{' || c == '[') {
            ++depth;
            expect_key = c == '{' && depth == 1;
        } else if (c == '}' || c == ']') {
            --depth;
            if (depth == 0) {
                keys.complete = true;
                return keys;
            }
        } else if (c == ',' && depth == 1) {
            expect_key = true;
        }
    }
    return keys;
}

} // namespace

std::string_view to_string(InputFormat format) {
    switch (format) {
    case InputFormat::capture:
        return "capture";
    case InputFormat::array:
        return "array";
    case InputFormat::ndjson:
        return "ndjson";
    }
    return "unknown";
}

std::optional<InputFormat> parse_input_format(std::string_view text) {
    for (InputFormat format : {InputFormat::capture, InputFormat::array, InputFormat::ndjson}) {
        if (text == to_string(format)) {
            return format;
        }
    }
    return std::nullopt;
}

std::optional<InputFormat> detect_input_format(std::string_view head) {
    if (head.substr(0, input::k_utf8_bom.size()) == input::k_utf8_bom) {
        head.remove_prefix(input::k_utf8_bom.size());
    }
    const auto first = std::find_if_not(head.begin(), head.end(), json_syntax::is_space);
    if (first == head.end()) {
        return std::nullopt;
    }
    if (*first == '[') {
        return InputFormat::array;
    }
    if (*first != '{') {
        return std::nullopt;
    }
    std::string_view line = head.substr(static_cast<std::size_t>(first - head.begin()));
    line = line.substr(0, line.find('\n'));
    const TopLevelKeys keys = scan_top_level_keys(line);
    // A capture line too long for the head still shows "v" (written first); its events member
    // comes last.
    if (keys.v && (keys.events || !keys.complete)) {
        return InputFormat::capture;
    }
    return InputFormat::ndjson;
}

} // namespace evrelay
