#pragma once

#include "core/util/error.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace evrelay::util {

// Streams a file (or stdin for "-") in large blocks, transparently gunzipping files that start
// with the gzip magic (streamed with zlib, so memory stays bounded whatever the input size).
// The buffer returned by next_block() keeps at least `k_padding` readable bytes after its end,
// so simdjson can parse it in place.
class InputStream {
  public:
    static constexpr std::size_t k_padding = 64;

    static Result<std::unique_ptr<InputStream>> open(const std::string& path);
    virtual ~InputStream() = default;

    // Reads up to `max` bytes into `out` (appending). Returns 0 at end of input.
    virtual Result<std::size_t> read(char* out, std::size_t max) = 0;
    // Bytes consumed from the underlying file so far (compressed bytes for .gz), for progress.
    virtual std::uint64_t raw_bytes_read() const = 0;
    // Total size of the underlying file when known (regular file), else 0.
    virtual std::uint64_t raw_size() const = 0;
    const std::string& name() const { return m_name; }

  protected:
    explicit InputStream(std::string name) : m_name(std::move(name)) {}

  private:
    std::string m_name;
};

// Splits an InputStream into lines without copying each one: a line is a view into an internal
// buffer that stays valid until the next call. Tracks line numbers and byte offsets for error
// messages. Lines longer than the buffer grow it (bounded by `max_line_bytes`).
class LineReader {
  public:
    struct Line {
        std::string_view text;     // without the trailing '\n' (and '\r')
        std::uint64_t number;      // 1-based
        std::uint64_t offset;      // byte offset of the line's first byte in the decoded stream
        bool terminated;           // false for a last line without '\n' (possibly truncated)
    };

    explicit LineReader(InputStream& input, std::size_t max_line_bytes = 256u << 20);

    // Next line, or an empty optional-like result at end: returns false at end of input.
    Result<bool> next(Line& line);
    InputStream& input() { return m_input; }

  private:
    InputStream& m_input;
    std::size_t m_max_line_bytes;
    std::string m_buffer;
    std::size_t m_begin = 0; // start of unread data in m_buffer
    std::size_t m_end = 0;   // end of valid data in m_buffer
    std::uint64_t m_line_number = 0;
    std::uint64_t m_offset = 0;
    bool m_eof = false;
};

} // namespace evrelay::util
