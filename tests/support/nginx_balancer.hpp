#pragma once

#include "tests/support/child_process.hpp"
#include "tests/support/scratch_dir.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace evrelay::test {

// A real load balancer for tests of several `serve` instances: Debian's nginx, started without
// root from a config of its own in a scratch directory (pid file, logs and temp paths there),
// listening on 127.0.0.1 and an ephemeral port, round-robin over `backends` (ports on
// 127.0.0.1). nginx's defaults for a POST, kept on purpose because they are what a user gets:
// a backend that refuses the connection is skipped for the next one (the request was not sent
// yet), a backend that fails after the request was sent is not (POST is not idempotent) and the
// client gets 502. A failed backend is left out for 1 s (`fail_timeout=1s`, instead of 10 s) so
// that a restarted instance is back in the rotation quickly. No keep-alive to the backends: a
// killed backend never leaves a cached connection behind.
//
// The constructor waits (bounded) until nginx accepts connections and throws std::runtime_error
// with nginx's own error output when it cannot start (not installed, a port taken). The
// destructor stops nginx (SIGQUIT, a bounded wait, then SIGKILL of its process group).
class NginxBalancer {
  public:
    explicit NginxBalancer(const std::vector<std::uint16_t>& backends);
    ~NginxBalancer();
    NginxBalancer(const NginxBalancer&) = delete;
    NginxBalancer& operator=(const NginxBalancer&) = delete;

    std::uint16_t port() const { return m_port; }
    // nginx's error log so far (502s and failed backends are logged there).
    std::string error_log() const;

  private:
    ScratchDir m_dir;
    std::unique_ptr<ChildProcess> m_process;
    std::uint16_t m_port = 0;
};

// The nginx binary (PATH, then /usr/sbin, where Debian puts it); empty when not installed.
std::string find_nginx();

} // namespace evrelay::test
