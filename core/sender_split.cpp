#include "core/sender_split.hpp"

namespace evrelay {
namespace {

bool is_json_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && is_json_space(text.front())) {
        text.remove_prefix(1);
    }
    while (!text.empty() && is_json_space(text.back())) {
        text.remove_suffix(1);
    }
    return text;
}

std::string as_array(std::string_view first_element, std::string_view last_element) {
    // The elements of one half are contiguous in the original body, so the bytes from the start
    // of the first to the end of the last (separators included) are copied in one piece.
    const char* begin = first_element.data();
    const char* end = last_element.data() + last_element.size();
    std::string out;
    out.reserve(static_cast<std::size_t>(end - begin) + 2);
    out.push_back('[');
    out.append(begin, end);
    out.push_back(']');
    return out;
}

} // namespace

bool top_level_elements(std::string_view array_body, std::vector<std::string_view>& out) {
    const std::string_view body = trim(array_body);
    if (body.size() < 2 || body.front() != '[' || body.back() != ']') {
        return false;
    }
    const std::string_view inner = body.substr(1, body.size() - 2);
    const std::size_t first_new = out.size();
    int depth = 0;
    bool in_string = false;
    bool escaped = false;
    std::size_t start = 0;
    for (std::size_t i = 0; i < inner.size(); ++i) {
        const char c = inner[i];
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            ++depth;
        } else if (c == '}' || c == ']') {
            --depth;
        } else if (c == ',' && depth == 0) {
            out.push_back(trim(inner.substr(start, i - start)));
            start = i + 1;
        }
    }
    if (depth != 0 || in_string) {
        out.resize(first_new);
        return false;
    }
    const std::string_view last = trim(inner.substr(start));
    if (!last.empty() || out.size() > first_new) {
        out.push_back(last);
    }
    return true;
}

std::optional<ArrayHalves> split_array_in_halves(std::string_view array_body) {
    std::vector<std::string_view> elements;
    if (!top_level_elements(array_body, elements) || elements.size() < 2) {
        return std::nullopt;
    }
    const std::size_t half = elements.size() / 2;
    ArrayHalves halves;
    halves.first = as_array(elements.front(), elements[half - 1]);
    halves.second = as_array(elements[half], elements.back());
    halves.first_events = half;
    halves.second_events = elements.size() - half;
    return halves;
}

} // namespace evrelay
