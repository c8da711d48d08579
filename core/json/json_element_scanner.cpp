#include "core/json/json_element_scanner.hpp"

#include "core/json/json_block_bits.hpp"

#include <cstdint>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace evrelay {

namespace {

// The first '"' or '\\' in [p, end), or end: the only bytes that matter inside a JSON string.
const char* find_string_special(const char* p, const char* end) {
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    while (end - p >= 16) {
        const __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        const int mask = _mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(block, quote), _mm_cmpeq_epi8(block, backslash)));
        if (mask != 0) {
            return p + __builtin_ctz(static_cast<unsigned>(mask));
        }
        p += 16;
    }
#endif
    while (p < end && *p != '"' && *p != '\\') {
        ++p;
    }
    return p;
}

} // namespace

// 64 bytes at a time, as simdjson's first stage: strings are masked out with bit tricks and only
// brackets and commas outside them are visited. Stops before the last partial block, which the
// byte loop of find_end() finishes. Returns true when `p` is at the ',' or ']' that ends the
// element.
#if defined(__SSE2__)
bool JsonElementScanner::find_end_in_blocks(const char*& p, const char* end) {
    using namespace json_block_bits;
    while (end - p >= 64) {
        const BlockBits bits = classify(p);
        std::uint64_t escaped = 0;
        if (bits.backslash != 0 || m_escape_carry) {
            escaped = find_escaped(bits.backslash, m_escape_carry);
        }
        const std::uint64_t quotes = bits.quote & ~escaped;
        const std::uint64_t strings = prefix_xor(quotes) ^ (m_in_string ? ~0ULL : 0ULL);
        std::uint64_t structural = bits.structural & ~strings;
        while (structural != 0) {
            const int i = __builtin_ctzll(structural);
            const char c = p[i];
            if (c == '{' || c == '[') {
                ++m_depth;
            } else if (c == '}') {
                if (m_depth > 0) {
                    --m_depth;
                }
            } else if (m_depth > 0 && c == ']') {
                --m_depth;
            } else if (m_depth == 0) { // ',' or ']' ends the element
                p += i;
                m_in_string = false;
                m_escape_carry = false;
                return true;
            }
            structural &= structural - 1;
        }
        m_in_string = (strings >> 63) != 0;
        p += 64;
    }
    if (m_escape_carry) {
        // The block ended with a backslash inside a string: step over what it escapes, or
        // resume at the backslash itself when that byte has not arrived yet.
        m_escape_carry = false;
        if (p == end) {
            --p;
            return false;
        }
        ++p;
    }
    return false;
}
#endif

bool JsonElementScanner::find_end(const char*& p, const char* end) {
#if defined(__SSE2__)
    if (find_end_in_blocks(p, end)) {
        return true;
    }
#endif
    while (p < end) {
        if (m_in_string) {
            p = find_string_special(p, end);
            if (p == end) {
                return false;
            }
            if (*p == '\\') {
                if (end - p < 2) {
                    return false; // resume at the '\\', with the byte it escapes
                }
                p += 2;
                continue;
            }
            m_in_string = false;
            ++p;
            continue;
        }
        switch (*p) {
        case '"':
            m_in_string = true;
            break;
        case '{':
        case '[':
            ++m_depth;
            break;
        case '}':
            if (m_depth > 0) {
                --m_depth;
            }
            break;
        case ']':
            if (m_depth == 0) {
                return true;
            }
            --m_depth;
            break;
        case ',':
            if (m_depth == 0) {
                return true;
            }
            break;
        default:
            break;
        }
        ++p;
    }
    return false;
}

} // namespace evrelay
