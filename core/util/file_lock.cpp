#include "core/util/file_lock.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <thread>

namespace evrelay::util {

namespace {

// How often a waiting acquire() tries again: flock has no timed wait, and a short poll keeps the
// wait bounded without a helper thread or signal.
constexpr std::chrono::milliseconds k_retry_interval{50};

} // namespace

Result<std::optional<FileLock>> FileLock::acquire(const std::string& path,
                                                  std::chrono::milliseconds wait, bool create) {
    const int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0);
    Fd fd(::open(path.c_str(), flags, 0600));
    if (!fd) {
        return make_error(ErrorKind::io, "cannot open " + path + ": " + std::strerror(errno));
    }
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (true) {
        if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
            return std::optional<FileLock>(FileLock(std::move(fd)));
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EWOULDBLOCK) {
            return make_error(ErrorKind::io, "cannot lock " + path + ": " + std::strerror(errno));
        }
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) {
            return std::optional<FileLock>();
        }
        std::this_thread::sleep_for(
            std::min<std::chrono::steady_clock::duration>(k_retry_interval, deadline - now));
    }
}

std::optional<FileLock> FileLock::try_adopt(Fd fd) {
    while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno != EINTR) {
            return std::nullopt;
        }
    }
    return FileLock(std::move(fd));
}

} // namespace evrelay::util
