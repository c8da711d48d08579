#include "core/spool/spool_progress.hpp"

#include "core/spool/spool_directory.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <memory>
#include <string>
#include <unistd.h>

namespace evrelay {

namespace {

// "b PAYLOAD-ID LINE LINE ..." (the payload ID has no spaces; lines ascend), or nothing.
std::shared_ptr<const SpoolBatchRecord> parse_batch_record(std::string_view record) {
    if (record.substr(0, 2) != "b ") {
        return nullptr;
    }
    record.remove_prefix(2);
    const std::size_t space = record.find(' ');
    if (space == 0 || space == std::string_view::npos) {
        return nullptr;
    }
    auto batch = std::make_shared<SpoolBatchRecord>();
    batch->payload_id = std::string(record.substr(0, space));
    record.remove_prefix(space);
    while (!record.empty()) {
        if (record.front() != ' ') {
            return nullptr;
        }
        record.remove_prefix(1);
        std::uint64_t line = 0;
        const auto [end, error] =
            std::from_chars(record.data(), record.data() + record.size(), line);
        if (error != std::errc() || line == 0 ||
            (!batch->lines.empty() && line <= batch->lines.back())) {
            return nullptr;
        }
        batch->lines.push_back(line);
        record.remove_prefix(static_cast<std::size_t>(end - record.data()));
    }
    if (batch->lines.empty()) {
        return nullptr;
    }
    return batch;
}

} // namespace

Result<std::unique_ptr<SpoolProgress>> SpoolProgress::open(const std::filesystem::path& segment) {
    const std::filesystem::path path = SpoolDirectory::progress_path(segment);
    std::unordered_set<std::uint64_t> done;
    BatchIndex batches;
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
            } else if (auto batch = parse_batch_record(record)) {
                for (const std::uint64_t member : batch->lines) {
                    batches[member] = batch;
                }
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
    return std::unique_ptr<SpoolProgress>(
        new SpoolProgress(path, std::move(fd), std::move(done), std::move(batches)));
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

Result<void> SpoolProgress::record_batch(const SpoolBatchRecord& batch) {
    std::string record = "b " + batch.payload_id;
    for (const std::uint64_t line : batch.lines) {
        record.push_back(' ');
        append_record(record, line);
        record.pop_back(); // append_record's '\n'
    }
    record.push_back('\n');
    auto shared = std::make_shared<const SpoolBatchRecord>(batch);
    std::lock_guard lock(m_mutex);
    for (const std::uint64_t line : batch.lines) {
        m_batches[line] = shared;
    }
    return append_records(m_fd.get(), record, m_path);
}

std::shared_ptr<const SpoolBatchRecord> SpoolProgress::batch_of(std::uint64_t line) const {
    std::lock_guard lock(m_mutex);
    auto found = m_batches.find(line);
    return found == m_batches.end() ? nullptr : found->second;
}

void SpoolProgress::remove() {
    std::lock_guard lock(m_mutex);
    m_pending.clear();
    m_fd.close();
    ::unlink(m_path.c_str());
}

} // namespace evrelay
