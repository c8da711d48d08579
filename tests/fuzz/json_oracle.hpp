#pragma once

// simdjson's DOM parser as the reference for evrelay's JSON validator (the verdict the unit test
// tests/unit/test_json_validator.cpp compares with), with the two places where the validator is
// more lenient on purpose (core/json/json_validator.hpp): numbers simdjson refuses to convert
// (1e400, 20-digit integers) and lone UTF-16 surrogate escapes. A text the validator accepts and
// simdjson refuses must be accepted by simdjson once those are taken out; every other
// disagreement is a finding.

#include "tests/fuzz/fuzz_support.hpp"

#include "core/json/json_string.hpp"
#include "core/json/json_validator.hpp"

#include <simdjson.h>

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace evrelay::fuzz {

// RFC 8259's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
inline bool is_json_number(std::string_view text) {
    std::size_t i = 0;
    const auto digits = [&] {
        const std::size_t start = i;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
            ++i;
        }
        return i - start;
    };
    if (i < text.size() && text[i] == '-') {
        ++i;
    }
    if (i < text.size() && text[i] == '0') {
        ++i;
    } else if (digits() == 0) {
        return false;
    }
    if (i < text.size() && text[i] == '.') {
        ++i;
        if (digits() == 0) {
            return false;
        }
    }
    if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
        ++i;
        if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
            ++i;
        }
        if (digits() == 0) {
            return false;
        }
    }
    return i == text.size();
}

// The numbers inside `part` (at every depth), as views into the validated text.
inline void collect_numbers(const JsonValidator& validator, const JsonPart& part,
                            std::vector<std::string_view>& numbers) {
    if (part.type == JsonType::number) {
        numbers.push_back(part.value);
        return;
    }
    if (part.type != JsonType::array && part.type != JsonType::object) {
        return;
    }
    std::vector<JsonPart> parts;
    validator.parts_of(part, parts);
    for (const JsonPart& child : parts) {
        collect_numbers(validator, child, numbers);
    }
}

inline bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// `json` with each number in `numbers` (views into `json`) replaced by a 0 and spaces, and each
// \uD800-\uDFFF escape by \u0041: what simdjson refuses on purpose, taken out; the length and
// every other byte unchanged.
inline std::string without_lenient_parts(std::string_view json,
                                         const std::vector<std::string_view>& numbers) {
    std::string out(json);
    for (const std::string_view number : numbers) {
        const auto at = static_cast<std::size_t>(number.data() - json.data());
        out.replace(at, number.size(), std::string(number.size(), ' '));
        out[at] = '0';
    }
    for (std::size_t i = 0; i + 1 < out.size(); ++i) {
        if (out[i] != '\\') {
            continue;
        }
        if (out[i + 1] == 'u' && i + 5 < out.size() && (out[i + 2] == 'd' || out[i + 2] == 'D') &&
            is_hex(out[i + 3]) &&
            std::string_view("89abcdefABCDEF").find(out[i + 3]) != std::string_view::npos &&
            is_hex(out[i + 4]) && is_hex(out[i + 5])) {
            out.replace(i + 2, 4, "0041");
        }
        ++i; // the escaped byte is not a backslash that starts an escape
    }
    return out;
}

inline bool same_type(JsonType type, simdjson::dom::element_type dom) {
    using T = simdjson::dom::element_type;
    switch (type) {
    case JsonType::array:
        return dom == T::ARRAY;
    case JsonType::object:
        return dom == T::OBJECT;
    case JsonType::string:
        return dom == T::STRING;
    case JsonType::number:
        return dom == T::INT64 || dom == T::UINT64 || dom == T::DOUBLE;
    case JsonType::boolean:
        return dom == T::BOOL;
    case JsonType::null:
        return dom == T::NULL_VALUE;
    }
    return false;
}

void compare_parts_with_dom(const JsonValidator& validator, JsonType type,
                            const std::vector<JsonPart>& parts, simdjson::dom::element element,
                            const std::string& where);

// The part the validator found is the element simdjson found, at every depth: same type, same
// keys in the same order, same strings (decoded), same literals, and numbers that are exactly
// the number's text (nothing more, nothing less: read again, the same value).
inline void compare_with_dom(const JsonValidator& validator, const JsonPart& part,
                             simdjson::dom::element element) {
    const std::string where(part.value.substr(0, 200));
    FUZZ_CHECK(same_type(part.type, element.type()), "type differs from simdjson's at " + where);
    switch (part.type) {
    case JsonType::string: {
        FUZZ_CHECK(part.value.size() >= 2 && part.value.front() == '"' && part.value.back() == '"',
                   "string part is not a quoted string: " + where);
        const std::string decoded = json_string_value(part.value.substr(1, part.value.size() - 2));
        FUZZ_CHECK(decoded == std::string_view(element.get_string().value()),
                   "json_string_value differs from simdjson's string: " + where);
        return;
    }
    case JsonType::boolean:
        FUZZ_CHECK(part.value == (element.get_bool().value() ? "true" : "false"),
                   "boolean part is not the literal: " + where);
        return;
    case JsonType::null:
        FUZZ_CHECK(part.value == "null", "null part is not the literal: " + where);
        return;
    case JsonType::number: {
        FUZZ_CHECK(is_json_number(part.value), "number part is not an RFC 8259 number: " + where);
        const std::string text(part.value);
        if (element.type() == simdjson::dom::element_type::DOUBLE) {
            FUZZ_CHECK(std::strtod(text.c_str(), nullptr) == element.get_double().value(),
                       "number part reads as another value than simdjson's: " + where);
        } else if (element.type() == simdjson::dom::element_type::INT64) {
            std::int64_t value = 0;
            std::from_chars(text.data(), text.data() + text.size(), value);
            FUZZ_CHECK(value == element.get_int64().value(), "integer differs: " + where);
        } else {
            std::uint64_t value = 0;
            std::from_chars(text.data(), text.data() + text.size(), value);
            FUZZ_CHECK(value == element.get_uint64().value(), "integer differs: " + where);
        }
        return;
    }
    case JsonType::array:
    case JsonType::object:
        break;
    }
    std::vector<JsonPart> parts;
    validator.parts_of(part, parts);
    compare_parts_with_dom(validator, part.type, parts, element, where);
}

// The parts of an array or object (`type`) are the elements or members simdjson found.
inline void compare_parts_with_dom(const JsonValidator& validator, JsonType type,
                                   const std::vector<JsonPart>& parts,
                                   simdjson::dom::element element, const std::string& where) {
    std::size_t n = 0;
    if (type == JsonType::array) {
        // The array (object) is kept in a local: iterating the value() of the temporary result
        // would read it after its end.
        const simdjson::dom::array array = element.get_array().value();
        for (simdjson::dom::element child : array) {
            FUZZ_CHECK(n < parts.size(), "fewer array elements than simdjson's: " + where);
            FUZZ_CHECK(parts[n].key.empty(), "an array element has a key: " + where);
            compare_with_dom(validator, parts[n++], child);
        }
    } else {
        const simdjson::dom::object object = element.get_object().value();
        for (simdjson::dom::key_value_pair member : object) {
            FUZZ_CHECK(n < parts.size(), "fewer object members than simdjson's: " + where);
            FUZZ_CHECK(json_string_value(parts[n].key) == member.key,
                       "member key differs from simdjson's: " + where);
            compare_with_dom(validator, parts[n++], member.value);
        }
    }
    FUZZ_CHECK(n == parts.size(), "more parts than simdjson's elements: " + where);
}

// JSON's own whitespace (RFC 8259: space, tab, LF, CR) around `json` removed.
inline std::string_view trim_json_space(std::string_view json) {
    const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    while (!json.empty() && space(json.front())) {
        json.remove_prefix(1);
    }
    while (!json.empty() && space(json.back())) {
        json.remove_suffix(1);
    }
    return json;
}

// Checks the validator's verdict on `json` (already validated by `validator` from a padded
// buffer, with the result `valid`) against simdjson's. On agreement with an accepted text, also
// compares what the validator found with simdjson's document.
inline void check_against_dom(const JsonValidator& validator, std::string_view json,
                              const JsonResult<void>& valid) {
    static simdjson::dom::parser dom;
    const simdjson::padded_string padded(json);
    simdjson::simdjson_result<simdjson::dom::element> parsed = dom.parse(padded);
    const std::string shown(json.substr(0, 300));
    if (!valid) {
        FUZZ_CHECK(parsed.error() != simdjson::SUCCESS,
                   "validator rejects what simdjson accepts (" + valid.error().message +
                       " at byte " + std::to_string(valid.error().offset) + "): " + shown);
        FUZZ_CHECK(valid.error().offset <= json.size(), "rejection offset past the text");
        FUZZ_CHECK(!valid.error().message.empty(), "rejection without a message");
        return;
    }
    FUZZ_CHECK(validator.root() == trim_json_space(json), "root is not the trimmed text: " + shown);
    JsonPart root;
    root.value = validator.root();
    root.type = validator.root_type();
    if (parsed.error() != simdjson::SUCCESS) {
        // Accepted, refused by simdjson: only for the lenient parts.
        std::vector<std::string_view> numbers;
        for (const JsonPart& part : validator.parts()) {
            collect_numbers(validator, part, numbers);
        }
        if (root.type == JsonType::number) {
            numbers.push_back(root.value);
        }
        for (const std::string_view number : numbers) {
            FUZZ_CHECK(is_json_number(number),
                       "validator accepts a number RFC 8259 does not: " + std::string(number));
        }
        const simdjson::padded_string strict(without_lenient_parts(json, numbers));
        const simdjson::error_code again = dom.parse(strict).error();
        FUZZ_CHECK(again == simdjson::SUCCESS,
                   std::string("validator accepts what simdjson rejects (") +
                       simdjson::error_message(parsed.error()) + "): " + shown);
        return;
    }
    const simdjson::dom::element element = parsed.value();
    FUZZ_CHECK(same_type(root.type, element.type()), "root type differs: " + shown);
    if (root.type != JsonType::array && root.type != JsonType::object) {
        FUZZ_CHECK(validator.parts().empty(), "a scalar root has parts: " + shown);
        compare_with_dom(validator, root, element);
        return;
    }
    // The root's own parts come from validate(), their insides from parts_of().
    compare_parts_with_dom(validator, root.type, validator.parts(), element, shown);
}

} // namespace evrelay::fuzz
