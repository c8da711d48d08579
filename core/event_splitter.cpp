#include "core/event_splitter.hpp"

#include "core/json_type_name.hpp"
#include "core/util/json_scan.hpp"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <optional>

namespace evrelay {

namespace {

constexpr std::size_t k_simdjson_padding = simdjson::SIMDJSON_PADDING;

// +1 for the characters that open an array or object, -1 for those that close one.
constexpr std::array<std::int8_t, 256> k_depth_change = [] {
    std::array<std::int8_t, 256> table{};
    table['{'] = table['['] = 1;
    table['}'] = table[']'] = -1;
    return table;
}();

bool is_json_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::size_t first_non_space(std::string_view json) {
    std::size_t i = 0;
    while (i < json.size() && is_json_space(json[i])) {
        ++i;
    }
    return i;
}

std::string_view trim_right(std::string_view text) {
    while (!text.empty() && is_json_space(text.back())) {
        text.remove_suffix(1);
    }
    return text;
}

std::string describe(simdjson::ondemand::json_type type) {
    using simdjson::ondemand::json_type;
    switch (type) {
    case json_type::array:
        return "an array";
    case json_type::object:
        return "an object";
    case json_type::string:
        return "a string";
    case json_type::number:
        return "a number";
    case json_type::boolean:
        return "a boolean";
    case json_type::null:
        return "null";
    }
    return "an unknown value";
}

// Finds where a JSON text first goes wrong. simdjson's DOM parser validates far faster but does
// not say where the problem is, so this scalar walk runs only on input already rejected, to give
// the user an offset. It follows RFC 8259 and checks UTF-8 as simdjson does.
class ErrorLocator {
  public:
    explicit ErrorLocator(std::string_view json) : m_json(json) {}

    // The offset of the first invalid byte (the input size when it is truncated), or nothing
    // when this walk finds no problem (e.g. simdjson's depth limit).
    std::optional<std::size_t> locate() {
        skip_space();
        if (!value(0)) {
            return m_pos;
        }
        skip_space();
        if (m_pos != m_json.size()) {
            return m_pos;
        }
        return std::nullopt;
    }

  private:
    static constexpr int k_max_depth = 1024;

    bool at_end() const { return m_pos >= m_json.size(); }
    unsigned char peek() const { return static_cast<unsigned char>(m_json[m_pos]); }

    void skip_space() {
        while (!at_end() && is_json_space(m_json[m_pos])) {
            ++m_pos;
        }
    }

    bool value(int depth) {
        if (at_end() || depth > k_max_depth) {
            return false;
        }
        switch (peek()) {
        case '{':
            return object(depth + 1);
        case '[':
            return array(depth + 1);
        case '"':
            return string();
        case 't':
            return literal("true");
        case 'f':
            return literal("false");
        case 'n':
            return literal("null");
        default:
            return number();
        }
    }

    bool object(int depth) {
        ++m_pos; // '{'
        skip_space();
        if (!at_end() && peek() == '}') {
            ++m_pos;
            return true;
        }
        while (true) {
            if (at_end() || peek() != '"' || !string()) {
                return false;
            }
            skip_space();
            if (at_end() || peek() != ':') {
                return false;
            }
            ++m_pos;
            skip_space();
            if (!value(depth)) {
                return false;
            }
            skip_space();
            if (at_end()) {
                return false;
            }
            if (peek() == '}') {
                ++m_pos;
                return true;
            }
            if (peek() != ',') {
                return false;
            }
            ++m_pos;
            skip_space();
        }
    }

    bool array(int depth) {
        ++m_pos; // '['
        skip_space();
        if (!at_end() && peek() == ']') {
            ++m_pos;
            return true;
        }
        while (true) {
            if (!value(depth)) {
                return false;
            }
            skip_space();
            if (at_end()) {
                return false;
            }
            if (peek() == ']') {
                ++m_pos;
                return true;
            }
            if (peek() != ',') {
                return false;
            }
            ++m_pos;
            skip_space();
        }
    }

    bool literal(std::string_view word) {
        if (m_json.substr(m_pos, word.size()) != word) {
            return false; // reported at the start of the misspelt word
        }
        m_pos += word.size();
        return true;
    }

    bool digits() {
        const std::size_t start = m_pos;
        while (!at_end() && peek() >= '0' && peek() <= '9') {
            ++m_pos;
        }
        return m_pos > start;
    }

    bool number() {
        if (!at_end() && peek() == '-') {
            ++m_pos;
        }
        if (at_end()) {
            return false;
        }
        if (peek() == '0') {
            ++m_pos;
        } else if (!digits()) {
            return false;
        }
        if (!at_end() && peek() == '.') {
            ++m_pos;
            if (!digits()) {
                return false;
            }
        }
        if (!at_end() && (peek() == 'e' || peek() == 'E')) {
            ++m_pos;
            if (!at_end() && (peek() == '+' || peek() == '-')) {
                ++m_pos;
            }
            if (!digits()) {
                return false;
            }
        }
        return true;
    }

    bool string() {
        ++m_pos; // '"'
        while (!at_end()) {
            const unsigned char c = peek();
            if (c == '"') {
                ++m_pos;
                return true;
            }
            if (c < 0x20) {
                return false;
            }
            if (c == '\\') {
                if (!escape()) {
                    return false;
                }
            } else if (c >= 0x80) {
                if (!utf8_sequence()) {
                    return false;
                }
            } else {
                ++m_pos;
            }
        }
        return false;
    }

    bool escape() {
        ++m_pos; // '\'
        if (at_end()) {
            return false;
        }
        const char c = m_json[m_pos];
        if (std::strchr("\"\\/bfnrt", c) != nullptr && c != '\0') {
            ++m_pos;
            return true;
        }
        if (c != 'u') {
            return false;
        }
        ++m_pos;
        for (int i = 0; i < 4; ++i) {
            if (at_end() || !std::isxdigit(peek())) {
                return false;
            }
            ++m_pos;
        }
        return true;
    }

    bool continuation(std::size_t at, unsigned char low = 0x80, unsigned char high = 0xBF) const {
        if (at >= m_json.size()) {
            return false;
        }
        const auto c = static_cast<unsigned char>(m_json[at]);
        return c >= low && c <= high;
    }

    // One multi-byte UTF-8 sequence, rejecting overlong forms, surrogates and code points above
    // U+10FFFF (Unicode table 3-7).
    bool utf8_sequence() {
        const unsigned char c = peek();
        std::size_t length = 0;
        bool ok = false;
        if (c >= 0xC2 && c <= 0xDF) {
            length = 2;
            ok = continuation(m_pos + 1);
        } else if (c >= 0xE0 && c <= 0xEF) {
            length = 3;
            const unsigned char low = c == 0xE0 ? 0xA0 : 0x80;
            const unsigned char high = c == 0xED ? 0x9F : 0xBF;
            ok = continuation(m_pos + 1, low, high) && continuation(m_pos + 2);
        } else if (c >= 0xF0 && c <= 0xF4) {
            length = 4;
            const unsigned char low = c == 0xF0 ? 0x90 : 0x80;
            const unsigned char high = c == 0xF4 ? 0x8F : 0xBF;
            ok = continuation(m_pos + 1, low, high) && continuation(m_pos + 2) &&
                 continuation(m_pos + 3);
        }
        if (!ok) {
            return false;
        }
        m_pos += length;
        return true;
    }

    std::string_view m_json;
    std::size_t m_pos = 0;
};

JsonError syntax_error(std::string_view json, simdjson::error_code code) {
    JsonError error;
    error.message = simdjson::error_message(code);
    if (code == simdjson::CAPACITY) {
        error.message = "input too large for the JSON parser";
        return error;
    }
    error.offset = ErrorLocator(json).locate().value_or(0);
    return error;
}

} // namespace

struct EventSplitter::Impl {
    simdjson::dom::parser dom;
    simdjson::ondemand::parser ondemand;
    // Input whose caller cannot promise simdjson's padding is copied here; kept between calls so
    // that small inputs (NDJSON lines, post bodies) do not allocate each time.
    std::unique_ptr<char[]> padded;
    std::size_t padded_size = 0;

    // Returns a buffer holding `json` followed by at least SIMDJSON_PADDING readable bytes.
    const char* ensure_padding(std::string_view json, std::size_t padded_capacity) {
        if (padded_capacity >= json.size() + k_simdjson_padding) {
            return json.data();
        }
        const std::size_t needed = json.size() + k_simdjson_padding;
        if (padded_size < needed) {
            const std::size_t size = std::max(needed, padded_size * 2);
            padded = std::make_unique_for_overwrite<char[]>(size);
            padded_size = size;
        }
        if (!json.empty()) {
            std::memcpy(padded.get(), json.data(), json.size());
        }
        std::memset(padded.get() + json.size(), 0, k_simdjson_padding);
        return padded.get();
    }

    // After dom.parse() of `buffer` (which holds `json`, a JSON array whose elements are all
    // objects): appends the elements' spans to `out`, found from the parse's structural index
    // (the offset of every '{', '}', '[', ']', ',', ':', string and scalar in the text; simdjson
    // exposes it "for benchmarking access"): an element starts at a '{' entering depth 2 and
    // ends at the '}' returning to depth 1. A 50-event SDK post (20 KB, ~3,800 entries) takes
    // 3-4 µs, where the second (On Demand) parse that found the spans before took 11-14 µs
    // (bench/README.md, "Serve"). False when the index does not look as expected.
    bool spans_from_structurals(const char* buffer, std::string_view json,
                                std::vector<std::string_view>& out) const {
        const auto* implementation = dom.implementation.get();
        if (implementation == nullptr || implementation->structural_indexes == nullptr) {
            return false;
        }
        const std::uint32_t* index = implementation->structural_indexes.get();
        const std::uint32_t count = implementation->n_structural_indexes;
        int depth = 0;
        std::uint32_t start = 0;
        for (std::uint32_t i = 0; i < count; ++i) {
            const std::uint32_t at = index[i];
            if (at >= json.size()) {
                return false;
            }
            // Strings, scalars, ',' and ':' (nearly all entries) change nothing.
            const int change = k_depth_change[static_cast<unsigned char>(buffer[at])];
            if (change > 0) {
                if (depth == 1) {
                    start = at;
                }
                ++depth;
            } else if (change < 0) {
                --depth;
                if (depth == 1) {
                    out.push_back(json.substr(start, at + 1 - start));
                }
            }
        }
        return depth == 0;
    }

    // Cuts the elements of an array (already validated) into views into `json`. `buffer` holds
    // the same bytes as `json` (possibly a padded copy).
    bool cut(const char* buffer, std::string_view json, std::size_t capacity,
             std::vector<std::string_view>& out, JsonError& error) {
        const std::size_t first = out.size();
        auto fail = [&](std::size_t offset, std::string message) {
            out.resize(first);
            error = JsonError{offset, std::move(message)};
            return false;
        };
        auto offset_of = [&](const char* p) { return static_cast<std::size_t>(p - buffer); };

        simdjson::ondemand::document doc;
        if (auto code = ondemand.iterate(buffer, json.size(), capacity).get(doc); code) {
            return fail(0, simdjson::error_message(code));
        }
        simdjson::ondemand::array array;
        if (auto code = doc.get_array().get(array); code) {
            return fail(first_non_space(json), simdjson::error_message(code));
        }
        std::size_t index = 0;
        for (auto element : array) {
            simdjson::ondemand::value value;
            if (auto code = element.get(value); code) {
                return fail(0, simdjson::error_message(code));
            }
            simdjson::ondemand::json_type type;
            if (auto code = value.type().get(type); code) {
                return fail(offset_of(value.raw_json_token().data()),
                            simdjson::error_message(code));
            }
            if (type != simdjson::ondemand::json_type::object) {
                return fail(offset_of(value.raw_json_token().data()),
                            "element " + std::to_string(index) + " is " + describe(type) +
                                ", not an object");
            }
            simdjson::ondemand::object object;
            std::string_view raw;
            if (auto code = value.get_object().get(object); code) {
                return fail(offset_of(value.raw_json_token().data()),
                            simdjson::error_message(code));
            }
            if (auto code = object.raw_json().get(raw); code) {
                return fail(0, simdjson::error_message(code));
            }
            raw = trim_right(raw);
            out.push_back(json.substr(offset_of(raw.data()), raw.size()));
            ++index;
        }
        return true;
    }
};

EventSplitter::EventSplitter() : m_impl(std::make_unique<Impl>()) {}
EventSplitter::~EventSplitter() = default;

bool EventSplitter::split_array(std::string_view json, std::size_t padded_capacity,
                                std::vector<std::string_view>& out, JsonError& error) {
    const char* buffer = m_impl->ensure_padding(json, padded_capacity);
    simdjson::dom::element root;
    if (auto code = m_impl->dom.parse(buffer, json.size(), false).get(root); code) {
        error = syntax_error(json, code);
        return false;
    }
    if (root.type() != simdjson::dom::element_type::ARRAY) {
        error = JsonError{first_non_space(json), "expected a JSON array of event objects, got " +
                                                     json_type_name(root.type())};
        return false;
    }
    // The elements' types from the DOM just built (a walk over the root array's elements only).
    simdjson::dom::array elements;
    if (auto code = root.get_array().get(elements); code) {
        error = JsonError{first_non_space(json), simdjson::error_message(code)};
        return false;
    }
    std::size_t count = 0;
    for (const simdjson::dom::element element : elements) {
        const auto type = element.type();
        if (type != simdjson::dom::element_type::OBJECT) {
            // Rare: locate the element by a scan of the (valid) text.
            std::vector<std::string_view> spans;
            util::array_element_spans(json, spans);
            const std::size_t offset =
                count < spans.size() ? static_cast<std::size_t>(spans[count].data() - json.data())
                                     : 0;
            error = JsonError{offset, "element " + std::to_string(count) + " is " +
                                          json_type_name(type) + ", not an object"};
            return false;
        }
        ++count;
    }
    // Their spans from the parse's structural indexes instead of a second parse.
    const std::size_t first = out.size();
    if (m_impl->spans_from_structurals(buffer, json, out) && out.size() - first == count) {
        return true;
    }
    // Not expected to happen (the walk relies on simdjson's stage-1 index, an internal of its
    // DOM parser); the text is valid, so a plain scan finds the same spans.
    out.resize(first);
    util::array_element_spans(json, out);
    return true;
}

bool EventSplitter::cut_validated_array(std::string_view json, std::size_t padded_capacity,
                                        std::vector<std::string_view>& out, JsonError& error) {
    const char* buffer = m_impl->ensure_padding(json, padded_capacity);
    const std::size_t capacity = buffer == json.data() ? padded_capacity : m_impl->padded_size;
    return m_impl->cut(buffer, json, capacity, out, error);
}

bool EventSplitter::validate_json(std::string_view json, std::size_t padded_capacity,
                                  JsonError& error) {
    const char* buffer = m_impl->ensure_padding(json, padded_capacity);
    if (auto code = m_impl->dom.parse(buffer, json.size(), false).error(); code) {
        error = syntax_error(json, code);
        return false;
    }
    return true;
}

bool EventSplitter::validate_object(std::string_view json, std::size_t padded_capacity,
                                    JsonError& error) {
    const char* buffer = m_impl->ensure_padding(json, padded_capacity);
    simdjson::dom::element root;
    if (auto code = m_impl->dom.parse(buffer, json.size(), false).get(root); code) {
        error = syntax_error(json, code);
        return false;
    }
    if (root.type() != simdjson::dom::element_type::OBJECT) {
        error = JsonError{first_non_space(json),
                          "expected a JSON object, got " + json_type_name(root.type())};
        return false;
    }
    return true;
}

std::string EventSplitter::kind_of(std::string_view object_json) {
    const char* buffer = m_impl->ensure_padding(object_json, object_json.size());
    simdjson::ondemand::document doc;
    if (m_impl->ondemand.iterate(buffer, object_json.size(), m_impl->padded_size).get(doc)) {
        return {};
    }
    std::string_view kind;
    if (doc.find_field_unordered("kind").get_string().get(kind)) {
        return {};
    }
    return std::string(kind);
}

} // namespace evrelay
