#pragma once

namespace evrelay {

// Finds where one element of a JSON array ends, in text that arrives in pieces: the ',' or ']'
// that is outside strings and not nested inside the element. It tracks strings (with their
// escapes) and nesting only, 64 bytes at a time where it can (json_block_bits.hpp), and knows
// nothing of events. The cut is exact when the text is valid JSON; on invalid text it is still
// somewhere in the text, and validating the piece cut rejects it.
class JsonElementScanner {
  public:
    // Starts a new element: the next find_end() begins at its first byte (after whitespace).
    void start() {
        m_depth = 0;
        m_in_string = false;
        m_escape_carry = false;
    }

    // Advances `p` through [p, end); reads no byte at or past `end`. Returns true with `p` at the
    // ',' or ']' that ends the element. Returns false when the element goes on past `end`: `p` is
    // then where the next call resumes once more bytes have been appended (`end`, or `end - 1`
    // when that byte is a backslash inside a string, whose escaped byte has not arrived).
    bool find_end(const char*& p, const char* end);

  private:
    bool find_end_in_blocks(const char*& p, const char* end); // SSE2 builds

    int m_depth = 0;
    bool m_in_string = false;
    bool m_escape_carry = false; // the last block scanned ended with an unescaped backslash
};

} // namespace evrelay
