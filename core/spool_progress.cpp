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

namespace {

// Appends whole records with as few write(2) calls as the kernel allows. A write of a few bytes
// to an O_APPEND file is whole or not at all in practice; a torn last record is ignored by open().
Result<void> append_records(int fd, std::string_view records, const std::filesystem::path& path) {
    while (!records.empty()) {
        const ssize_t written = ::write(fd, records.data(), records.size());
        if (written < 0) {
            if (errno == EINTR) {
                continue;
            }
            return make_error(ErrorKind::io, "cannot write spool progress file " + path.string() +
                                                 ": " + std::strerror(errno));
        }
        records.remove_prefix(static_cast<std::size_t>(written));
    }
    return {};
}

void append_record(std::string& out, std::uint64_t line) {
    char digits[24];
    const auto [end, error] = std::to_chars(digits, digits + sizeof digits, line);
    (void)error;
    out.append(digits, end);
    out.push_back('\n');
}

} // namespace

Result<void> SpoolProgress::mark_done(std::uint64_t line) {
    std::string record;
    append_record(record, line);
    std::lock_guard lock(m_mutex);
    if (!m_done.insert(line).second) {
        return {};
    }
    return append_records(m_fd.get(), record, m_path);
}

void SpoolProgress::mark_done_later(std::uint64_t line) {
    std::lock_guard lock(m_mutex);
    if (m_done.insert(line).second) {
        append_record(m_pending, line);
    }
}

Result<void> SpoolProgress::write_pending() {
    std::lock_guard lock(m_mutex);
    if (m_pending.empty()) {
        return {};
    }
    auto written = append_records(m_fd.get(), m_pending, m_path);
    m_pending.clear();
    return written;
}

bool SpoolProgress::has_pending() const {
    std::lock_guard lock(m_mutex);
    return !m_pending.empty();
}

void SpoolProgress::remove() {
    std::lock_guard lock(m_mutex);
    m_pending.clear();
    m_fd.close();
    ::unlink(m_path.c_str());
}

} // namespace evrelay
