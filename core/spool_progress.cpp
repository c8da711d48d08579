#include "core/spool_progress.hpp"

#include "core/spool_directory.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <memory>
#include <string>
#include <unistd.h>

namespace evrelay {

Result<std::unique_ptr<SpoolProgress>> SpoolProgress::open(const std::filesystem::path& segment) {
    const std::filesystem::path path = SpoolDirectory::progress_path(segment);
    std::unordered_set<std::uint64_t> done;
    std::uint64_t whole_bytes = 0; // up to and including the last '\n'
    bool torn = false;
    {
        std::ifstream in(path);
        std::string record;
        // getline() returns the torn last record too; it has no '\n' — eof() says so.
        while (std::getline(in, record)) {
            if (in.eof()) {
                torn = !record.empty();
                break;
            }
            whole_bytes += record.size() + 1;
            std::uint64_t line = 0;
            const auto [end, error] =
                std::from_chars(record.data(), record.data() + record.size(), line);
            if (error == std::errc() && end == record.data() + record.size()) {
                done.insert(line);
            }
        }
    }
    util::Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (!fd) {
        return make_error(ErrorKind::io, "cannot open spool progress file " + path.string() + ": " +
                                             std::strerror(errno));
    }
    // A torn last record (a crash mid-write) is cut off before anything is appended: "1\n2\n1"
    // followed by "3\n" would otherwise read back as line 13.
    if (torn && ::ftruncate(fd.get(), static_cast<off_t>(whole_bytes)) != 0) {
        return make_error(ErrorKind::io, "cannot repair spool progress file " + path.string() +
                                             ": " + std::strerror(errno));
    }
    return std::unique_ptr<SpoolProgress>(new SpoolProgress(path, std::move(fd), std::move(done)));
}

bool SpoolProgress::done(std::uint64_t line) const {
    std::lock_guard lock(m_mutex);
    return m_done.count(line) != 0;
}

std::size_t SpoolProgress::done_count() const {
    std::lock_guard lock(m_mutex);
    return m_done.size();
}

Result<void> SpoolProgress::mark_done(std::uint64_t line) {
    const std::string record = std::to_string(line) + "\n";
    std::lock_guard lock(m_mutex);
    if (!m_done.insert(line).second) {
        return {};
    }
    // One write of a few bytes to an O_APPEND file: whole or not at all in practice; a torn one
    // is ignored by open().
    while (::write(m_fd.get(), record.data(), record.size()) < 0) {
        if (errno != EINTR) {
            return make_error(ErrorKind::io, "cannot write spool progress file " + m_path.string() +
                                                 ": " + std::strerror(errno));
        }
    }
    return {};
}

void SpoolProgress::remove() {
    std::lock_guard lock(m_mutex);
    m_fd.close();
    ::unlink(m_path.c_str());
}

} // namespace evrelay
