#include "core/inbound/capture_writer.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace evrelay {

CaptureWriter::CaptureWriter(int fd, bool owns_fd, std::string path)
    : m_fd(fd), m_owns_fd(owns_fd), m_path(std::move(path)) {}

CaptureWriter::~CaptureWriter() {
    if (m_owns_fd && m_fd >= 0) {
        ::close(m_fd);
    }
}

Result<std::unique_ptr<CaptureWriter>> CaptureWriter::open(const std::string& path) {
    if (path == "-") {
        return std::unique_ptr<CaptureWriter>(new CaptureWriter(STDOUT_FILENO, false, "stdout"));
    }
    // 0600: a capture holds users' event data even though it holds no credentials.
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        return make_error(ErrorKind::io,
                          "cannot open capture file " + path + ": " + std::strerror(errno));
    }
    return std::unique_ptr<CaptureWriter>(new CaptureWriter(fd, true, path));
}

Result<void> CaptureWriter::write(const CaptureRecord& record) {
    std::string line;
    line.reserve(record.events_json.size() + 200);
    append_capture_line(line, record);

    std::lock_guard lock(m_mutex);
    std::size_t written = 0;
    while (written < line.size()) {
        const ssize_t n = ::write(m_fd, line.data() + written, line.size() - written);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            const std::string message =
                "capture: cannot write to " + m_path + ": " + std::strerror(errno);
            m_errors.fetch_add(1);
            // Once per process: a full disk would otherwise log on every post.
            if (!m_warned.exchange(true)) {
                spdlog::warn("{} (further capture errors are only counted)", message);
            }
            return make_error(ErrorKind::io, message);
        }
        written += static_cast<std::size_t>(n);
    }
    m_lines.fetch_add(1);
    return {};
}

} // namespace evrelay
