#include "core/spool/spool_segment_index.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace evrelay {

Result<SpoolIndexedSegment> SpoolIndexedSegment::open(const std::filesystem::path& path) {
    util::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        return make_error(ErrorKind::io,
                          "cannot open " + path.string() + ": " + std::strerror(errno));
    }
    return SpoolIndexedSegment(path, std::move(fd));
}

Result<void> SpoolIndexedSegment::read_events(const SpoolLineIndex& entry, std::string& out) const {
    out.resize(entry.events_length);
    std::size_t got = 0;
    while (got < out.size()) {
        const ssize_t n = ::pread(m_fd.get(), out.data() + got, out.size() - got,
                                  static_cast<off_t>(entry.events_offset + got));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return make_error(ErrorKind::io,
                              "cannot read " + m_path.string() + ": " +
                                  (n == 0 ? "file shorter than written" : std::strerror(errno)));
        }
        got += static_cast<std::size_t>(n);
    }
    return {};
}

} // namespace evrelay
