#include "core/util/json_writer.hpp"

#include <array>
#include <cstdint>

namespace evrelay::util {

namespace {

enum ByteClass : std::uint8_t {
    plain = 0,  // copied as is
    escape = 1, // '"', '\\' or a control character
    high = 2,   // first byte of a UTF-8 sequence (or a stray byte) to validate
};

constexpr std::array<std::uint8_t, 256> make_classes() {
    std::array<std::uint8_t, 256> classes{};
    for (int c = 0; c < 256; ++c) {
        if (c < 0x20 || c == '"' || c == '\\') {
            classes[c] = escape;
        } else if (c >= 0x80) {
            classes[c] = high;
        } else {
            classes[c] = plain;
        }
    }
    return classes;
}

constexpr std::array<std::uint8_t, 256> k_classes = make_classes();

bool in_range(unsigned char c, unsigned char low, unsigned char high_bound) {
    return c >= low && c <= high_bound;
}

// Length of the well-formed UTF-8 sequence (RFC 3629: no overlongs, no surrogates, at most
// U+10FFFF) at the start of `s`, or 0 if it is not well-formed.
std::size_t utf8_sequence_length(const unsigned char* s, std::size_t available) {
    const unsigned char c = s[0];
    auto cont = [&](std::size_t i, unsigned char low = 0x80, unsigned char high_bound = 0xBF) {
        return i < available && in_range(s[i], low, high_bound);
    };
    if (in_range(c, 0xC2, 0xDF)) {
        return cont(1) ? 2 : 0;
    }
    if (c == 0xE0) {
        return cont(1, 0xA0, 0xBF) && cont(2) ? 3 : 0;
    }
    if (in_range(c, 0xE1, 0xEC) || in_range(c, 0xEE, 0xEF)) {
        return cont(1) && cont(2) ? 3 : 0;
    }
    if (c == 0xED) {
        return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
    }
    if (c == 0xF0) {
        return cont(1, 0x90, 0xBF) && cont(2) && cont(3) ? 4 : 0;
    }
    if (in_range(c, 0xF1, 0xF3)) {
        return cont(1) && cont(2) && cont(3) ? 4 : 0;
    }
    if (c == 0xF4) {
        return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
    }
    return 0;
}

void append_escape(std::string& out, unsigned char c) {
    static constexpr char k_hex[] = "0123456789abcdef";
    switch (c) {
    case '"':
        out += "\\\"";
        return;
    case '\\':
        out += "\\\\";
        return;
    case '\n':
        out += "\\n";
        return;
    case '\r':
        out += "\\r";
        return;
    case '\t':
        out += "\\t";
        return;
    case '\b':
        out += "\\b";
        return;
    case '\f':
        out += "\\f";
        return;
    default:
        out += "\\u00";
        out += k_hex[c >> 4];
        out += k_hex[c & 0x0f];
        return;
    }
}

} // namespace

void append_json_string(std::string& out, std::string_view text) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t size = text.size();
    out.reserve(out.size() + size + 2);
    out += '"';
    std::size_t run_start = 0;
    std::size_t i = 0;
    while (i < size) {
        const std::uint8_t kind = k_classes[bytes[i]];
        if (kind == plain) {
            ++i;
            continue;
        }
        if (kind == high) {
            const std::size_t length = utf8_sequence_length(bytes + i, size - i);
            if (length != 0) {
                i += length;
                continue;
            }
        }
        out.append(text.data() + run_start, i - run_start);
        if (kind == escape) {
            append_escape(out, bytes[i]);
        } else {
            // JSON text must be UTF-8 (RFC 8259 §8.1); a stray byte from a bad client would make
            // the whole payload unparseable upstream, so it becomes U+FFFD instead.
            out += "\\ufffd";
        }
        ++i;
        run_start = i;
    }
    out.append(text.data() + run_start, size - run_start);
    out += '"';
}

} // namespace evrelay::util
