#pragma once

#include "core/util/error.hpp"
#include "core/util/fd.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace evrelay::util {

// An exclusive flock(2) on a file, released when the FileLock is destroyed (or the process
// dies: the kernel drops it, so a crashed holder never leaves a stale lock behind). flock locks
// belong to an open file description, so two descriptors of the same file conflict even inside
// one process — the spool relies on that. Move-only.
class FileLock {
  public:
    // Opens `path` (creating it with mode 0600 when `create`) and locks it, retrying for up to
    // `wait` (zero: one try). Returns nullopt when another holder kept the lock all along; an
    // Error (io) when the file cannot be opened or locked for another reason.
    [[nodiscard]] static Result<std::optional<FileLock>>
    acquire(const std::string& path, std::chrono::milliseconds wait, bool create = true);

    // Locks an open descriptor without waiting; the FileLock owns it from then on. nullopt when
    // another holder has the file locked (the descriptor is then closed).
    [[nodiscard]] static std::optional<FileLock> try_adopt(Fd fd);

    int fd() const { return m_fd.get(); }

  private:
    explicit FileLock(Fd fd) : m_fd(std::move(fd)) {}
    Fd m_fd;
};

} // namespace evrelay::util
