// InputStream (declared in core/util/line_reader.hpp): plain and gzip-decoding streams over a
// file descriptor or a string.
#include "core/util/fd.hpp"
#include "core/util/line_reader.hpp"

#include <climits>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <new>
#include <sys/stat.h>
#include <unistd.h>

namespace evrelay::util {

namespace {

// Big reads keep syscall overhead negligible next to parsing (SPEC: replay of multi-GB files).
constexpr std::size_t k_read_block = std::size_t{1} << 20;

std::string describe(const std::string& name) {
    return name == "-" ? std::string("standard input") : "'" + name + "'";
}

// Where raw (possibly compressed) bytes come from.
class RawSource {
  public:
    virtual ~RawSource() = default;
    virtual Result<std::size_t> read(char* out, std::size_t max) = 0;
    virtual std::uint64_t size() const = 0;
};

class FdSource final : public RawSource {
  public:
    FdSource(Fd fd, std::string label, std::uint64_t size)
        : m_fd(std::move(fd)), m_label(std::move(label)), m_size(size) {}

    Result<std::size_t> read(char* out, std::size_t max) override {
        for (;;) {
            const ssize_t n = ::read(m_fd.get(), out, std::min<std::size_t>(max, SSIZE_MAX));
            if (n >= 0) {
                return static_cast<std::size_t>(n);
            }
            if (errno != EINTR) {
                return make_error(ErrorKind::io,
                                  "cannot read " + m_label + ": " + std::strerror(errno));
            }
        }
    }
    std::uint64_t size() const override { return m_size; }

  private:
    Fd m_fd;
    std::string m_label;
    std::uint64_t m_size;
};

class MemorySource final : public RawSource {
  public:
    explicit MemorySource(std::string data) : m_data(std::move(data)) {}

    Result<std::size_t> read(char* out, std::size_t max) override {
        const std::size_t n = std::min(max, m_data.size() - m_position);
        std::memcpy(out, m_data.data() + m_position, n);
        m_position += n;
        return n;
    }
    std::uint64_t size() const override { return m_data.size(); }

  private:
    std::string m_data;
    std::size_t m_position = 0;
};

// Undecoded input: the sniffed prefix first, then straight from the source into the caller's
// buffer (no intermediate copy).
class PlainStream final : public InputStream {
  public:
    PlainStream(std::string name, std::unique_ptr<RawSource> source, std::string prefix)
        : InputStream(std::move(name)), m_source(std::move(source)), m_prefix(std::move(prefix)),
          m_raw_bytes(m_prefix.size()) {}

    Result<std::size_t> read(char* out, std::size_t max) override {
        std::size_t copied = 0;
        if (m_prefix_used < m_prefix.size()) {
            copied = std::min(max, m_prefix.size() - m_prefix_used);
            std::memcpy(out, m_prefix.data() + m_prefix_used, copied);
            m_prefix_used += copied;
            if (copied == max) {
                return copied;
            }
        }
        Result<std::size_t> n = m_source->read(out + copied, max - copied);
        if (!n) {
            return n;
        }
        m_raw_bytes += *n;
        return copied + *n;
    }
    std::uint64_t raw_bytes_read() const override { return m_raw_bytes; }
    std::uint64_t raw_size() const override { return m_source->size(); }

  private:
    std::unique_ptr<RawSource> m_source;
    std::string m_prefix;
    std::size_t m_prefix_used = 0;
    std::uint64_t m_raw_bytes;
};

// gzip input decoded with zlib's streaming inflate, so memory stays at one compressed block
// whatever the file size. Concatenated members (what `cat a.gz b.gz` or pigz produce) are
// decoded in sequence.
class GzipStream final : public InputStream {
  public:
    GzipStream(std::string name, std::unique_ptr<RawSource> source, const std::string& prefix)
        : InputStream(std::move(name)), m_source(std::move(source)),
          m_input(new char[k_read_block]), m_raw_bytes(prefix.size()) {
        std::memset(&m_stream, 0, sizeof m_stream);
        // 16 + MAX_WBITS: expect a gzip header and trailer, not a zlib one.
        if (inflateInit2(&m_stream, 16 + MAX_WBITS) != Z_OK) {
            throw std::bad_alloc();
        }
        std::memcpy(m_input.get(), prefix.data(), prefix.size());
        m_stream.next_in = reinterpret_cast<Bytef*>(m_input.get());
        m_stream.avail_in = static_cast<uInt>(prefix.size());
    }
    ~GzipStream() override { inflateEnd(&m_stream); }

    Result<std::size_t> read(char* out, std::size_t max) override {
        if (m_finished || max == 0) {
            return 0;
        }
        const uInt room = static_cast<uInt>(std::min<std::size_t>(max, UINT_MAX));
        m_stream.next_out = reinterpret_cast<Bytef*>(out);
        m_stream.avail_out = room;
        // Loop until some output exists: returning 0 means end of input to the caller.
        while (m_stream.avail_out == room) {
            if (m_stream.avail_in == 0) {
                if (!m_source_eof) {
                    Result<std::size_t> n = m_source->read(m_input.get(), k_read_block);
                    if (!n) {
                        return tl::unexpected(n.error());
                    }
                    m_raw_bytes += *n;
                    m_source_eof = (*n == 0);
                    m_stream.next_in = reinterpret_cast<Bytef*>(m_input.get());
                    m_stream.avail_in = static_cast<uInt>(*n);
                    continue;
                }
                if (m_member_done) {
                    m_finished = true;
                    return 0;
                }
                return make_error(ErrorKind::invalid_input,
                                  "gzip data in " + describe(name()) + " is truncated");
            }
            if (m_member_done) {
                inflateReset(&m_stream);
                m_member_done = false;
            }
            const int rc = inflate(&m_stream, Z_NO_FLUSH);
            if (rc == Z_STREAM_END) {
                m_member_done = true;
            } else if (rc == Z_OK || (rc == Z_BUF_ERROR && m_stream.avail_in == 0)) {
                continue;
            } else if (rc == Z_MEM_ERROR) {
                throw std::bad_alloc();
            } else {
                const char* why = m_stream.msg != nullptr ? m_stream.msg : "invalid data";
                return make_error(ErrorKind::invalid_input,
                                  "corrupt gzip data in " + describe(name()) + ": " + why);
            }
        }
        return static_cast<std::size_t>(room - m_stream.avail_out);
    }
    std::uint64_t raw_bytes_read() const override { return m_raw_bytes; }
    std::uint64_t raw_size() const override { return m_source->size(); }

  private:
    std::unique_ptr<RawSource> m_source;
    std::unique_ptr<char[]> m_input;
    z_stream m_stream;
    std::uint64_t m_raw_bytes;
    bool m_source_eof = false;
    bool m_member_done = false;
    bool m_finished = false;
};

// Reads the first two bytes to choose the decoder; they are handed to it as a prefix, which
// works for pipes too where seeking back is impossible.
Result<std::unique_ptr<InputStream>> make_stream(std::string name,
                                                 std::unique_ptr<RawSource> source) {
    char head[2];
    std::size_t have = 0;
    while (have < sizeof head) {
        Result<std::size_t> n = source->read(head + have, sizeof head - have);
        if (!n) {
            return tl::unexpected(n.error());
        }
        if (*n == 0) {
            break;
        }
        have += *n;
    }
    std::string prefix(head, have);
    if (have == 2 && static_cast<unsigned char>(head[0]) == 0x1f &&
        static_cast<unsigned char>(head[1]) == 0x8b) {
        return std::make_unique<GzipStream>(std::move(name), std::move(source), prefix);
    }
    return std::make_unique<PlainStream>(std::move(name), std::move(source), std::move(prefix));
}

} // namespace

Result<std::unique_ptr<InputStream>> InputStream::open(const std::string& path) {
    const std::string label = describe(path);
    Fd fd;
    if (path == "-") {
        // A duplicate, so that closing the stream leaves the process's stdin alone.
        fd = Fd(::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0));
    } else {
        fd = Fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    }
    if (!fd) {
        return make_error(ErrorKind::io, "cannot open " + label + ": " + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        return make_error(ErrorKind::io, "cannot stat " + label + ": " + std::strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) {
        return make_error(ErrorKind::io, "cannot read " + label + ": it is a directory");
    }
    std::uint64_t size = 0;
    if (S_ISREG(st.st_mode)) {
        size = static_cast<std::uint64_t>(st.st_size);
        // Readahead helps the one-pass scans that replay does; failure only costs speed.
        (void)::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    return make_stream(path, std::make_unique<FdSource>(std::move(fd), label, size));
}

std::unique_ptr<InputStream> InputStream::from_string(std::string data, std::string name) {
    // A memory source cannot fail, so neither can sniffing it.
    return make_stream(std::move(name), std::make_unique<MemorySource>(std::move(data))).value();
}

} // namespace evrelay::util
