#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace evrelay::test {

// One request as the upstream received it.
struct RecordedRequest {
    std::string method;
    std::string target;                         // path (and query)
    std::map<std::string, std::string> headers; // names lower-cased
    std::string raw_body;                       // as sent on the wire
    std::string body;                           // gunzipped when Content-Encoding: gzip
    long status = 0;                            // what the upstream answered (0 while stalled)
    bool gzip_error = false; // Content-Encoding: gzip but not valid gzip (answered 400)
    std::chrono::steady_clock::time_point received;

    std::string header(const std::string& lower_name) const; // "" when absent
};

// The certificate (PEM, may hold its chain) and private key an HTTPS upstream answers with.
struct TlsFiles {
    std::string certificate;
    std::string private_key;
};

// A real HTTP/1.1 server on 127.0.0.1 and an ephemeral port, for tests: it records every
// request (decompressing gzip), answers a scripted sequence of statuses (then a default), and
// can stall (accept and read, answer nothing) to provoke timeouts. Thread per connection;
// keep-alive supported. Stops and joins its threads in the destructor.
class RecordingUpstream {
  public:
    RecordingUpstream();
    // The same over HTTPS (url() then says https://); a client that refuses the certificate
    // never gets as far as a request.
    explicit RecordingUpstream(const TlsFiles& tls);
    ~RecordingUpstream();
    RecordingUpstream(const RecordingUpstream&) = delete;
    RecordingUpstream& operator=(const RecordingUpstream&) = delete;

    std::uint16_t port() const;
    std::string url() const; // "http://127.0.0.1:<port>" (https:// with TlsFiles)

    // Statuses answered to the next requests, in order; afterwards `default_status` (202).
    void script(std::vector<int> statuses);
    // Script per path: statuses for requests whose target equals `path`.
    void script_path(const std::string& path, std::vector<int> statuses);
    void set_default_status(int status);
    // GET `path` answers 200 with `body` (application/json) and `etag`, or 304 when the request's
    // If-None-Match is `etag`; a script_path() for `path` comes first (401, 503 …). For the flag
    // data endpoint (GET /sdk/latest-all). May be called again to change the resource.
    void set_resource(const std::string& path, std::string body, std::string etag);
    // The Date header of every answer is this far from the real time (a clock ahead or behind).
    void set_date_offset(std::chrono::seconds offset);
    // When on, requests are read and recorded (status 0) but not answered until stall is turned
    // off (then they get the default status, without consuming the script: their client has
    // usually given up) or the server stops (then the connection is closed unanswered).
    void set_stall(bool stall);
    // Requests whose gunzipped body exceeds this many bytes are answered 413 (0 = no limit);
    // like an invalid gzip body (400), this does not consume the script.
    void set_max_body_bytes(std::size_t bytes);

    std::vector<RecordedRequest> requests() const;
    std::size_t request_count() const;
    // Waits (bounded) until at least `n` requests were recorded; returns whether they were.
    bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const;
    void clear(); // forgets the recorded requests (not the scripts)

  private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace evrelay::test
