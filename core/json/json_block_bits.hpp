#pragma once

#include <cstdint>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

// JSON text 64 bytes at a time, as simdjson's first stage reads it: one bit per byte, so that
// strings are masked out with bit arithmetic instead of being walked byte by byte. Inline: these
// run once per 64 bytes in the scanners' inner loops.
namespace evrelay::json_block_bits {

// Where the bytes that matter to a scanner are in 64 bytes: bit i is byte i.
struct BlockBits {
    std::uint64_t quote = 0;
    std::uint64_t backslash = 0;
    std::uint64_t structural = 0; // { } [ ] , (inside strings too)
};

#if defined(__SSE2__)
// Classifies the 64 bytes at `p` (all of which must be readable).
inline BlockBits classify(const char* p) {
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i case_bit = _mm_set1_epi8(0x20);
    const __m128i open_brace = _mm_set1_epi8('{');
    const __m128i close_brace = _mm_set1_epi8('}');
    const __m128i comma = _mm_set1_epi8(',');
    BlockBits bits;
    for (int k = 0; k < 4; ++k) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
        // '[' and ']' differ from '{' and '}' by the 0x20 bit only.
        const __m128i folded = _mm_or_si128(v, case_bit);
        const __m128i structural = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(folded, open_brace), _mm_cmpeq_epi8(folded, close_brace)),
            _mm_cmpeq_epi8(v, comma));
        const int shift = 16 * k;
        bits.quote |= static_cast<std::uint64_t>(
                          static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote))))
                      << shift;
        bits.backslash |= static_cast<std::uint64_t>(static_cast<unsigned>(
                              _mm_movemask_epi8(_mm_cmpeq_epi8(v, backslash))))
                          << shift;
        bits.structural |=
            static_cast<std::uint64_t>(static_cast<unsigned>(_mm_movemask_epi8(structural)))
            << shift;
    }
    return bits;
}
#endif

// Bit i set when an odd number of bits at or below i are set in x. Applied to the unescaped
// quotes of a block, it marks the bytes inside strings (opening quote included, closing quote
// not).
inline std::uint64_t prefix_xor(std::uint64_t x) {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    return x;
}

// The bytes escaped by a backslash (simdjson's branchless method), given the block's backslash
// bits: `carry` says whether the previous block ended with an unescaped backslash (its escape
// then covers bit 0), and is updated for the next block.
inline std::uint64_t find_escaped(std::uint64_t backslash, bool& carry) {
    constexpr std::uint64_t k_even_bits = 0x5555555555555555ULL;
    const std::uint64_t carried = carry ? 1 : 0;
    backslash &= ~carried;
    const std::uint64_t follows_escape = backslash << 1 | carried;
    const std::uint64_t odd_sequence_starts = backslash & ~k_even_bits & ~follows_escape;
    std::uint64_t sequences_starting_on_even_bits = 0;
    carry =
        __builtin_add_overflow(odd_sequence_starts, backslash, &sequences_starting_on_even_bits);
    const std::uint64_t invert_mask = sequences_starting_on_even_bits << 1;
    return (k_even_bits ^ invert_mask) & follows_escape;
}

} // namespace evrelay::json_block_bits
