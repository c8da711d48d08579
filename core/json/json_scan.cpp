#include "core/json/json_scan.hpp"

#include "core/json/json_syntax.hpp"
#include "core/util/ascii.hpp"

#include <cstring>

namespace evrelay {

namespace {

// Position just past the value starting at `pos` (after whitespace): a string, a nested
// array/object, or a scalar (ending at the next ',', '}' or ']' at this level).
std::size_t skip_value(std::string_view text, std::size_t pos) {
    const std::size_t size = text.size();
    while (pos < size && json_syntax::is_space(text[pos])) {
        ++pos;
    }
    if (pos >= size) {
        return size;
    }
    const char first = text[pos];
    if (first == '"') {
        return skip_json_string(text, pos);
    }
    if (first != '{' && first != '[') {
        while (pos < size && text[pos] != ',' && text[pos] != '}' && text[pos] != ']') {
            ++pos;
        }
        return pos;
    }
    int depth = 0;
    while (pos < size) {
        const char c = text[pos];
        if (c == '"') {
            pos = skip_json_string(text, pos);
            continue;
        }
        if (c == '{' || c == '[') {
            ++depth;
        } else if (c == '}' || c == ']') {
            if (--depth == 0) {
                return pos + 1;
            }
        }
        ++pos;
    }
    return size;
}

} // namespace

std::size_t skip_json_string(std::string_view text, std::size_t quote) {
    const char* data = text.data();
    const std::size_t size = text.size();
    std::size_t pos = quote + 1;
    while (pos < size) {
        // memchr is vectorised: strings are most of an event's bytes.
        const void* found = std::memchr(data + pos, '"', size - pos);
        if (found == nullptr) {
            return size;
        }
        const std::size_t end = static_cast<std::size_t>(static_cast<const char*>(found) - data);
        // A quote preceded by an odd number of backslashes is escaped.
        std::size_t backslashes = 0;
        while (end - backslashes > quote + 1 && data[end - backslashes - 1] == '\\') {
            ++backslashes;
        }
        if (backslashes % 2 == 0) {
            return end + 1;
        }
        pos = end + 1;
    }
    return size;
}

std::optional<std::vector<std::string_view>> array_element_spans(std::string_view json) {
    const std::string_view array = util::trim(json);
    if (array.size() < 2 || array.front() != '[' || array.back() != ']') {
        return std::nullopt;
    }
    std::vector<std::string_view> out;
    std::size_t pos = 1;
    const std::size_t end = array.size() - 1;
    while (pos < end) {
        while (pos < end && json_syntax::is_space(array[pos])) {
            ++pos;
        }
        if (pos >= end) {
            break;
        }
        const std::size_t value_end = skip_value(array.substr(0, end), pos);
        out.push_back(util::trim(array.substr(pos, value_end - pos)));
        pos = value_end;
        while (pos < end && array[pos] != ',') {
            ++pos;
        }
        ++pos; // past the comma
    }
    return out;
}

std::string_view object_member_span(std::string_view json, std::string_view key) {
    const std::string_view object = util::trim(json);
    if (object.size() < 2 || object.front() != '{' || object.back() != '}') {
        return {};
    }
    const std::size_t end = object.size() - 1;
    std::size_t pos = 1;
    while (pos < end) {
        while (pos < end && (json_syntax::is_space(object[pos]) || object[pos] == ',')) {
            ++pos;
        }
        if (pos >= end || object[pos] != '"') {
            return {};
        }
        const std::size_t key_end = skip_json_string(object, pos);
        const std::string_view name = object.substr(pos + 1, key_end - pos - 2);
        pos = key_end;
        while (pos < end && (json_syntax::is_space(object[pos]) || object[pos] == ':')) {
            ++pos;
        }
        const std::size_t value_end = skip_value(object.substr(0, end), pos);
        if (name == key) {
            return util::trim(object.substr(pos, value_end - pos));
        }
        pos = value_end;
    }
    return {};
}

void append_compact_json(std::string& out, std::string_view json) {
    std::size_t pos = 0;
    const std::size_t size = json.size();
    while (pos < size) {
        // Copy runs up to the next quote or blank at once: most values hold no blanks at all.
        std::size_t run = pos;
        while (run < size && json[run] != '"' && !json_syntax::is_space(json[run])) {
            ++run;
        }
        out.append(json.data() + pos, run - pos);
        if (run >= size) {
            return;
        }
        if (json[run] == '"') {
            const std::size_t end = skip_json_string(json, run);
            out.append(json.data() + run, end - run);
            pos = end;
        } else {
            pos = run + 1; // a blank between tokens
        }
    }
}

} // namespace evrelay
