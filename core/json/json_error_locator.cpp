#include "core/json/json_error_locator.hpp"

#include "core/json/json_syntax.hpp"

namespace evrelay {

namespace {

using json_syntax::is_escape_letter;
using json_syntax::is_hex;
using json_syntax::k_max_depth;

// Finds where a JSON text first goes wrong, byte by byte. Runs only on input already rejected,
// to give the user an exact offset; it follows RFC 8259 and checks UTF-8 as simdjson does.
class ErrorLocator {
  public:
    explicit ErrorLocator(std::string_view json) : m_json(json) {}

    // The offset of the first invalid byte (the input size when it is truncated), or nothing
    // when this walk finds no problem (e.g. the depth limit).
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
    bool at_end() const { return m_pos >= m_json.size(); }
    unsigned char peek() const { return static_cast<unsigned char>(m_json[m_pos]); }

    void skip_space() {
        while (!at_end() && json_syntax::is_space(m_json[m_pos])) {
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
        if (is_escape_letter(c)) {
            ++m_pos;
            return true;
        }
        if (c != 'u') {
            return false;
        }
        ++m_pos;
        for (int i = 0; i < 4; ++i) {
            if (at_end() || !is_hex(peek())) {
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

} // namespace

std::optional<std::size_t> locate_json_error(std::string_view json) {
    return ErrorLocator(json).locate();
}

} // namespace evrelay
