#pragma once

#include "core/inbound/http_exchange.hpp"
#include "core/util/error.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace evrelay {

// The oldest TLS version an HTTPS listener accepts; older ones are never accepted.
enum class TlsMinVersion { tls1_2, tls1_3 };

// SPEC §4 "Slow or idle clients": every limit here bounds what one client can hold, and none of
// them lets one client delay another.
struct HttpServerOptions {
    std::string bind = "0.0.0.0";
    std::uint16_t port = 8030;                       // 0 = ephemeral (tests)
    std::size_t max_body_bytes = 10u << 20;          // body as sent → 413 when larger
    std::size_t max_header_bytes = 64u << 10;        // request line + fields → 431 when larger
    std::chrono::milliseconds header_timeout{30000}; // whole header must arrive within
    std::chrono::milliseconds body_timeout{30000};   // body must arrive within (after headers)
    std::chrono::milliseconds idle_timeout{60000};   // keep-alive idle between requests
    std::chrono::milliseconds write_timeout{30000};  // a client must take its response within
    std::size_t max_connections = 4096;              // beyond: accept and close at once
    std::string tls_cert_file, tls_key_file;         // both set → HTTPS (Beast ssl_stream)
    TlsMinVersion tls_min_version = TlsMinVersion::tls1_2;
    int threads = 0; // 0 = hardware_concurrency
};

// Called once per request, on the connection's strand, from one of the server's threads; several
// connections call it concurrently, so it must be thread-safe. It must not block on the network
// or the disk (STYLE item 6): a slow handler holds a server thread. What must wait (a durable
// post's fsync) returns HttpResponse::later(): the session then waits for the answer without a
// thread, and shutdown() waits for it as for any request in hand. Every responder must be
// called or destroyed before the HttpServer is (it holds the session, which refers to the
// server). It must not throw (a programming error): see run().
using RequestHandler = std::function<HttpResponse(HttpRequest&&)>;

// The inbound HTTP/1.1 listener (Boost.Beast, kept out of this header: only http_server.cpp
// compiles it). Owns the io_context, the acceptor, the sessions and the threads that run them.
// Threading: listen() and run() from one thread; every() before run(); post(),
// stop_accepting(), shutdown(), stop() and open_connections() from any thread, including a
// handler or a timer callback (they never block). Destroy only after run() has returned.
// Signals are not the server's: cli/serve.cpp takes them with cli/signal_watcher and post()s
// what they ask for onto the loop.
class HttpServer {
  public:
    HttpServer(HttpServerOptions options, RequestHandler handler);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Loads the TLS certificate and key (when set), then opens, binds and listens; the error
    // names the step ("bind 0.0.0.0:8030: Address already in use"). Returns the bound port.
    Result<std::uint16_t> listen();

    // Runs the io_context on options.threads threads (the calling thread is one of them) until
    // shutdown() or stop() ends it. Should a handler, a periodic task or a posted function throw
    // (a programming error), the server stops at once and run() rethrows that exception here,
    // once every thread has returned; the HttpServer can then only be destroyed.
    void run();

    // Calls fn every interval on a server thread (e.g. the publisher's flush interval), until the
    // server stops. Call before run().
    void every(std::chrono::milliseconds interval, std::function<void()> fn);

    // Calls fn once on a server thread, as soon as one is free (before run(): once it starts).
    // From any thread, e.g. a signal watcher's. fn never runs once the loop has ended; it is
    // then destroyed with the server.
    void post(std::function<void()> fn);

    // Closes the acceptor; sessions finish the request in hand, answer it with
    // "Connection: close" and close; sessions waiting for a next request close at once.
    void stop_accepting();

    // Graceful end: stop_accepting(), let sessions finish their current requests, wait up to
    // `grace` for them, then close the rest and stop the io_context so run() returns.
    void shutdown(std::chrono::milliseconds grace);

    // Immediate end: shutdown(0), i.e. requests in flight are cut off.
    void stop();

    // Connections being served now (rejected ones over max_connections are not counted).
    std::size_t open_connections() const;

    struct Impl;

  private:
    std::unique_ptr<Impl> m_impl;
};

} // namespace evrelay
