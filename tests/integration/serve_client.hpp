#pragma once

#include "serve_process.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace evrelay::test {

// What http_request (serve_process.hpp) cannot send: chunked bodies, empty header values,
// HTTPS.
struct ClientRequest {
    std::string method = "POST";
    std::string target;
    // An empty value is sent as an empty header ("Name:" on the wire), not dropped.
    std::vector<std::pair<std::string, std::string>> headers{};
    std::string body{};
    // Sends the body with Transfer-Encoding: chunked and no Content-Length, in chunks of at most
    // `chunk_bytes`.
    bool chunked = false;
    std::size_t chunk_bytes = 64;
    bool https = false;
    std::string ca_file{}; // https: verify the server with this CA; empty = no verification
};

// One request to 127.0.0.1:port (libcurl), bounded to 10 s.
ClientResponse send_request(std::uint16_t port, const ClientRequest& request);

// The gzip member for `data` (what an SDK with compression on sends).
std::string gzip_bytes(std::string_view data);

// Waits (bounded) until `needle` appears at least `times` times in the process's stderr.
bool wait_for_log(ChildProcess& process, const std::string& needle, std::size_t times = 1,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Stops a serve at the end of a test whatever happens: SIGTERM, then a bounded wait; the
// ChildProcess kills it if it is still running after that.
class ServeGuard {
  public:
    explicit ServeGuard(ServeProcess& serve) : m_process(serve.process()) {}
    explicit ServeGuard(ChildProcess& process) : m_process(process) {}
    ~ServeGuard();
    ServeGuard(const ServeGuard&) = delete;
    ServeGuard& operator=(const ServeGuard&) = delete;

    // SIGTERM and wait; the exit status, or nullopt when it did not exit in time.
    std::optional<int> stop(std::chrono::milliseconds timeout = std::chrono::seconds(20));

  private:
    ChildProcess& m_process;
    bool m_stopped = false;
};

// Starts `evrelay <args>` with `env` added to the environment. Unlike ServeProcess (which removes
// EVENTS_HOST, PORT and USE_EVENTS even when `env` sets them), only the variables of the Relay
// and proxy families that `env` does not set are removed, so a test can set them.
std::unique_ptr<ChildProcess> start_evrelay(const std::vector<std::string>& args,
                                            const std::map<std::string, std::string>& env = {});

// Waits (bounded) for "serve: listening on 127.0.0.1:PORT" and returns PORT; 0 when the
// process exited or did not get there in time.
std::uint16_t wait_for_listening(ChildProcess& process,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(20));

// A plain TCP connection to 127.0.0.1:port for what no HTTP client does (trickling bytes).
class RawConnection {
  public:
    explicit RawConnection(std::uint16_t port);
    ~RawConnection();
    RawConnection(const RawConnection&) = delete;
    RawConnection& operator=(const RawConnection&) = delete;

    bool connected() const { return m_fd >= 0; }
    // False when the peer has closed the connection (or it broke).
    bool send(std::string_view bytes);
    // Whether the peer closes the connection within `timeout`; whatever it sent before closing
    // is appended to `received`.
    bool closed_within(std::chrono::milliseconds timeout, std::string* received = nullptr);

  private:
    int m_fd = -1;
};

// A port that was free a moment ago (bind to 0, read, close): for a process that must be
// started on a port given in advance.
std::uint16_t free_port();

} // namespace evrelay::test
