#pragma once

#include <unistd.h>
#include <utility>

namespace evrelay::util {

// Owns a POSIX file descriptor and closes it in the destructor. Move-only, so exactly one owner
// closes each descriptor; release() hands it to code that takes ownership itself.
class Fd {
  public:
    Fd() = default;
    explicit Fd(int fd) : m_fd(fd) {}
    ~Fd() { close(); }

    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    Fd(Fd&& other) noexcept : m_fd(other.release()) {}
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) {
            close();
            m_fd = other.release();
        }
        return *this;
    }

    int get() const { return m_fd; }
    explicit operator bool() const { return m_fd >= 0; }

    // Gives up ownership without closing.
    int release() { return std::exchange(m_fd, -1); }

    // Closes early; returns false if close(2) reported an error (the descriptor is gone anyway:
    // retrying close after EINTR on Linux could close a descriptor another thread just opened).
    bool close() {
        if (m_fd < 0) {
            return true;
        }
        const int rc = ::close(std::exchange(m_fd, -1));
        return rc == 0;
    }

  private:
    int m_fd = -1;
};

} // namespace evrelay::util
