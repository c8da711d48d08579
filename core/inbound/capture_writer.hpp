#pragma once

#include "core/model/capture_record.hpp"
#include "core/util/error.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace evrelay {

// Appends capture lines (SPEC §6) for accepted posts to a file or to stdout. Each line goes out
// in one write(2) on an O_APPEND descriptor, under one mutex, so lines are whole and never
// interleave, even with another process appending to the same file; nothing is buffered in the
// process, so a crash loses no acknowledged line that write() took. Records carry no
// credentials (CaptureRecord has no field for them). Thread-safe.
class CaptureWriter {
  public:
    // "-" writes to stdout; any other path is created with mode 0600 or appended to.
    static Result<std::unique_ptr<CaptureWriter>> open(const std::string& path);
    ~CaptureWriter();
    CaptureWriter(const CaptureWriter&) = delete;
    CaptureWriter& operator=(const CaptureWriter&) = delete;

    // A failed write is logged (rate-limited) and counted; the post is still answered, because
    // the capture is a debugging aid and must not make SDKs lose events.
    Result<void> write(const CaptureRecord& record);

    std::uint64_t lines_written() const { return m_lines.load(); }
    std::uint64_t write_errors() const { return m_errors.load(); }
    const std::string& path() const { return m_path; }

  private:
    CaptureWriter(int fd, bool owns_fd, std::string path);

    int m_fd;
    bool m_owns_fd;
    std::string m_path;
    std::mutex m_mutex;
    std::atomic<std::uint64_t> m_lines{0};
    std::atomic<std::uint64_t> m_errors{0};
    std::atomic<bool> m_warned{false};
};

} // namespace evrelay
