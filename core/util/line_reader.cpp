#include "core/util/line_reader.hpp"

#include "core/util/byte_size.hpp"

#include <algorithm>
#include <cstring>

namespace evrelay::util {

LineReader::LineReader(InputStream& input, std::size_t max_line_bytes)
    : m_input(input), m_max_line_bytes(max_line_bytes),
      // new char[] rather than a zero-filled string: the pages of a large buffer are only
      // touched as data arrives, so small inputs stay cheap.
      m_buffer(new char[k_initial_buffer_bytes + InputStream::k_padding]),
      m_capacity(k_initial_buffer_bytes) {
    std::memset(m_buffer.get(), 0, InputStream::k_padding);
}

LineReader::~LineReader() = default;

Result<bool> LineReader::fill() {
    if (m_eof) {
        return false;
    }
    if (m_end + k_block_bytes > m_capacity) {
        // Only the unreturned tail (part of one line) moves, so this stays cheap.
        if (m_begin > 0) {
            std::memmove(m_buffer.get(), m_buffer.get() + m_begin, m_end - m_begin);
            m_scan -= m_begin;
            m_end -= m_begin;
            m_begin = 0;
        }
        if (m_end + k_block_bytes > m_capacity) {
            const std::size_t capacity = std::max(m_capacity * 2, m_end + k_block_bytes);
            std::unique_ptr<char[]> buffer(new char[capacity + InputStream::k_padding]);
            std::memcpy(buffer.get(), m_buffer.get(), m_end);
            m_buffer = std::move(buffer);
            m_capacity = capacity;
        }
    }
    Result<std::size_t> n = m_input.read(m_buffer.get() + m_end, m_capacity - m_end);
    if (!n) {
        return tl::unexpected(n.error());
    }
    if (*n == 0) {
        m_eof = true;
        return false;
    }
    m_end += *n;
    // Defined bytes for simdjson to over-read past the last line (see the padding guarantee).
    std::memset(m_buffer.get() + m_end, 0, InputStream::k_padding);
    return true;
}

tl::unexpected<Error> LineReader::line_too_long() const {
    return make_error(
        ErrorKind::too_large,
        "line " + std::to_string(m_line_number) + " of " +
            (m_input.name() == "-" ? std::string("standard input") : "'" + m_input.name() + "'") +
            " is longer than " + format_byte_size(m_max_line_bytes));
}

Result<bool> LineReader::next(Line& line) {
    for (;;) {
        // Re-read every round: fill() may move data or replace the buffer.
        const char* const data = m_buffer.get();
        const auto* found =
            static_cast<const char*>(std::memchr(data + m_scan, '\n', m_end - m_scan));
        if (m_discarding) {
            // Skipping the remainder of a line already reported as too long.
            const std::size_t stop =
                found != nullptr ? static_cast<std::size_t>(found - data) + 1 : m_end;
            m_offset += stop - m_begin;
            m_begin = stop;
            m_scan = stop;
            m_discarding = (found == nullptr);
            if (m_discarding) {
                Result<bool> more = fill();
                if (!more) {
                    return tl::unexpected(more.error());
                }
                if (!*more) {
                    return false;
                }
            }
            continue;
        }
        if (found != nullptr) {
            const std::size_t newline = static_cast<std::size_t>(found - data);
            std::size_t text_end = newline;
            if (text_end > m_begin && data[text_end - 1] == '\r') {
                --text_end;
            }
            const std::size_t begin = m_begin;
            const std::uint64_t offset = m_offset;
            m_offset += newline + 1 - m_begin;
            m_begin = newline + 1;
            m_scan = m_begin;
            ++m_line_number;
            if (text_end - begin > m_max_line_bytes) {
                return line_too_long();
            }
            line.text = std::string_view(data + begin, text_end - begin);
            line.number = m_line_number;
            line.offset = offset;
            line.terminated = true;
            return true;
        }
        m_scan = m_end;
        // +1: the pending bytes may end with the '\r' of a "\r\n" still to come.
        if (m_end - m_begin > m_max_line_bytes + 1) {
            ++m_line_number;
            m_discarding = true;
            return line_too_long();
        }
        if (m_eof) {
            if (m_begin == m_end) {
                return false;
            }
            std::size_t text_end = m_end;
            if (data[text_end - 1] == '\r') {
                --text_end;
            }
            ++m_line_number;
            const bool too_long = text_end - m_begin > m_max_line_bytes;
            line.text = std::string_view(data + m_begin, text_end - m_begin);
            line.number = m_line_number;
            line.offset = m_offset;
            line.terminated = false;
            m_offset += m_end - m_begin;
            m_begin = m_end;
            m_scan = m_end;
            if (too_long) {
                return line_too_long();
            }
            return true;
        }
        Result<bool> more = fill();
        if (!more) {
            return tl::unexpected(more.error());
        }
        // Either more data arrived or m_eof is now set; both are handled above.
    }
}

Result<std::string_view> LineReader::peek(std::size_t n) {
    while (m_end - m_begin < n && !m_eof) {
        Result<bool> more = fill();
        if (!more) {
            return tl::unexpected(more.error());
        }
    }
    return std::string_view(m_buffer.get() + m_begin, std::min(n, m_end - m_begin));
}

} // namespace evrelay::util
