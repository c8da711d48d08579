#pragma once

#include "core/util/error.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace evrelay::util {

// Streams a file (or stdin for "-") in large blocks, transparently gunzipping input that starts
// with the gzip magic (streamed with zlib, so memory stays bounded whatever the input size;
// concatenated gzip members are decoded one after another, as gzip(1) does).
// Not thread-safe: one reader per stream.
class InputStream {
  public:
    // Readable bytes that LineReader keeps after the end of every line it returns, so simdjson
    // can parse a line in place (SIMDJSON_PADDING is 64 in simdjson 3).
    static constexpr std::size_t k_padding = 64;

    // Errors (ErrorKind::io) name the file: it does not exist, is a directory, cannot be read.
    static Result<std::unique_ptr<InputStream>> open(const std::string& path);
    // An in-memory input with the same gzip detection, for tests and for bodies already read.
    static std::unique_ptr<InputStream> from_string(std::string data,
                                                    std::string name = "<memory>");
    virtual ~InputStream() = default;

    // Reads up to `max` decoded bytes into `out`. Returns 0 only at end of input. Corrupt or
    // truncated gzip data fails with ErrorKind::invalid_input, read errors with ErrorKind::io.
    virtual Result<std::size_t> read(char* out, std::size_t max) = 0;
    // Bytes consumed from the underlying file so far (compressed bytes for .gz), for progress.
    virtual std::uint64_t raw_bytes_read() const = 0;
    // Total size of the underlying file when known (regular file), else 0.
    virtual std::uint64_t raw_size() const = 0;
    // The path given to open() ("-" for stdin).
    const std::string& name() const { return m_name; }

  protected:
    explicit InputStream(std::string name) : m_name(std::move(name)) {}

  private:
    std::string m_name;
};

// Splits an InputStream into lines without copying each one: a line is a view into an internal
// buffer that stays valid until the next call to next() or peek().
//
// Padding guarantee: at least InputStream::k_padding readable bytes follow the end of every
// returned line's text inside the buffer (the line's own '\n', later data or zeroed padding), so
// simdjson may parse `line.text` in place with its padded-input API.
//
// Reads blocks of 1 MiB or more and finds line ends with memchr; the unconsumed tail of the
// buffer is moved to the front only when less than a block of room is left at the end. Lines
// longer than the buffer grow it, bounded by `max_line_bytes`. Not thread-safe.
class LineReader {
  public:
    struct Line {
        std::string_view text; // without the trailing '\n' (and '\r')
        std::uint64_t number;  // 1-based
        std::uint64_t offset;  // byte offset of the line's first byte in the decoded stream
        bool terminated;       // false for a last line without '\n' (possibly truncated)
    };

    static constexpr std::size_t k_block_bytes = std::size_t{1} << 20;
    static constexpr std::size_t k_initial_buffer_bytes = std::size_t{4} << 20;

    explicit LineReader(InputStream& input, std::size_t max_line_bytes = 256u << 20);
    ~LineReader();
    LineReader(const LineReader&) = delete;
    LineReader& operator=(const LineReader&) = delete;

    // Fills `line` and returns true, or returns false at end of input. Empty lines are returned
    // as empty lines. A line longer than `max_line_bytes` fails with ErrorKind::too_large naming
    // its number; the next call resumes with the line after it. Errors of the input (io,
    // invalid_input) are passed on.
    Result<bool> next(Line& line);

    // Up to `n` bytes of not yet returned input, without consuming them (fewer only at end of
    // input); for sniffing the format. Reads and buffers as much as needed, so keep `n` small.
    Result<std::string_view> peek(std::size_t n);

    // Lines returned (or rejected as too long) so far.
    std::uint64_t lines_read() const { return m_line_number; }
    InputStream& input() { return m_input; }

  private:
    Result<bool> fill();
    tl::unexpected<Error> line_too_long() const;

    InputStream& m_input;
    std::size_t m_max_line_bytes;
    std::unique_ptr<char[]> m_buffer; // m_capacity data bytes + k_padding
    std::size_t m_capacity = 0;
    std::size_t m_begin = 0; // start of unreturned data in m_buffer
    std::size_t m_scan = 0;  // where the search for '\n' resumes (data before it has none)
    std::size_t m_end = 0;   // end of valid data in m_buffer
    std::uint64_t m_line_number = 0;
    std::uint64_t m_offset = 0; // decoded-stream offset of m_buffer[m_begin]
    bool m_eof = false;
    bool m_discarding = false; // skipping the rest of a too-long line
};

} // namespace evrelay::util
