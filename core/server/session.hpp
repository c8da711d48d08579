// Internal to core/server: included only by http_server.cpp, the one translation unit that
// compiles Boost.Beast. One connection's read → handle → write loop (HttpSession).
#pragma once

#include "core/server/request_body.hpp"
#include "core/server/response_writer.hpp"
#include "core/server/server_impl.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace evrelay::server_detail {

namespace http = boost::beast::http;

// How much an idle session reads at once while it waits for the next request: at least this,
// and as much as the previous request took (header allowance plus body), up to
// k_max_wait_read_bytes, so that a client posting bodies of similar size has its whole next
// request read by one recv() and parsed without another trip through the event loop. The
// session's buffer keeps that capacity (bounded by the maximum) between requests.
constexpr std::size_t k_read_chunk_bytes = 4096;
constexpr std::size_t k_max_wait_read_bytes = 64 * 1024;
constexpr std::size_t k_header_allowance_bytes = 1024;
// After an error answer (413, 400, 431) the client may still be sending its body; closing with
// unread data makes the kernel send a reset, which can destroy the answer before the client reads
// it. So the session stops sending and discards input for at most this long ("lingering close").
constexpr auto k_linger_timeout = std::chrono::seconds(1);
// A TLS close_notify exchange at the end of a connection must not hold the session for long.
constexpr auto k_tls_close_timeout = std::chrono::seconds(2);

inline bool is_loopback(const asio::ip::address& address) {
    if (address.is_v6() && address.to_v6().is_v4_mapped()) {
        // A dual-stack listener on "::" sees IPv4 peers as ::ffff:a.b.c.d.
        return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).is_loopback();
    }
    return address.is_loopback();
}

// One connection. Owns itself for as long as an operation is pending (every handler holds
// shared_from_this), and does everything on its own strand, so it needs no lock. The server knows
// it only through a weak_ptr, to stop it.
//
// A request goes through phases, each with its own deadline on the stream:
//   wait (first bytes; idle_timeout between requests, header_timeout on a new connection)
//   → header (header_timeout) → body (body_timeout) → handler [→ deferred answer, e.g. a durable
//   post's fsync: no deadline, the handler's own] → write (write_timeout) → wait.
// One request at a time: the next is read only after the answer is written, which bounds
// pipelining at one request (STYLE item 6) without a queue.
template <class Stream>
class HttpSession : public SessionControl,
                    public std::enable_shared_from_this<HttpSession<Stream>> {
  public:
    static constexpr bool k_tls = std::is_same_v<Stream, TlsStream>;

    template <class... StreamArgs>
    explicit HttpSession(HttpServer::Impl& server, StreamArgs&&... stream_args)
        : m_server(server), m_stream(std::forward<StreamArgs>(stream_args)...) {}

    // session_gone() locks a mutex and may post onto the loop: those throw only when the system
    // is out of resources, and a destructor that cannot unregister its session has no better
    // answer than std::terminate.
    // NOLINTNEXTLINE(bugprone-exception-escape)
    ~HttpSession() override { m_server.session_gone(this); }

    void run() {
        // Onto the strand before the first operation (the socket came from the acceptor's).
        asio::dispatch(m_stream.get_executor(),
                       beast::bind_front_handler(&HttpSession::on_run, this->shared_from_this()));
    }

    void request_stop() override {
        asio::dispatch(m_stream.get_executor(), [self = this->shared_from_this()] {
            if (self->m_state == State::handshake || self->m_state == State::waiting) {
                self->close_now();
            }
            // Any other state checks m_server.stopping when it answers.
        });
    }

    void force_close() override {
        asio::dispatch(m_stream.get_executor(),
                       [self = this->shared_from_this()] { self->close_now(); });
    }

  private:
    enum class State { handshake, waiting, reading, handling, deferred, writing, closing };

    beast::tcp_stream& tcp() { return beast::get_lowest_layer(m_stream); }

    void on_run() {
        beast::error_code ec;
        const auto peer = tcp().socket().remote_endpoint(ec);
        if (!ec) {
            m_peer = endpoint_text(peer);
            m_from_loopback = is_loopback(peer.address());
        }
        if constexpr (!k_tls) {
            // write_response() writes synchronously, which must never wait for the client.
            beast::error_code nb_ec;
            tcp().socket().non_blocking(true, nb_ec);
            m_write_at_once = !nb_ec;
        }
        if constexpr (k_tls) {
            m_state = State::handshake;
            tcp().expires_after(m_server.options.header_timeout);
            m_stream.async_handshake(
                ssl::stream_base::server,
                beast::bind_front_handler(&HttpSession::on_handshake, this->shared_from_this()));
        } else {
            do_wait();
        }
    }

    void on_handshake(beast::error_code ec) {
        if (ec) {
            fail(ec, "TLS handshake");
            return;
        }
        do_wait();
    }

    // Waits for the first bytes of the next request under the idle deadline, so a keep-alive
    // connection may sit quietly for idle_timeout while a started header must be complete
    // within header_timeout.
    void do_wait() {
        if (m_server.stopping.load()) {
            close_now();
            return;
        }
        if (m_buffer.size() > 0) {
            start_request(true); // the client pipelined: the next request is already here
            return;
        }
        m_state = State::waiting;
        tcp().expires_after(m_first_request ? m_server.options.header_timeout
                                            : m_server.options.idle_timeout);
        const std::size_t read_bytes =
            std::clamp(m_last_request_bytes, k_read_chunk_bytes, k_max_wait_read_bytes);
        m_stream.async_read_some(
            m_buffer.prepare(read_bytes),
            beast::bind_front_handler(&HttpSession::on_wait, this->shared_from_this()));
    }

    void on_wait(beast::error_code ec, std::size_t bytes) {
        m_buffer.commit(bytes);
        if (ec) {
            fail(ec, m_first_request ? "wait for request" : "keep-alive idle");
            return;
        }
        // On a new connection the header deadline has run since the connection opened (or the
        // TLS handshake ended): the whole first header must arrive within it.
        start_request(!m_first_request);
    }

    void start_request(bool arm_deadline) {
        m_state = State::reading;
        start_parser(m_parser, m_server.options.max_header_bytes, m_server.options.max_body_bytes);
        if (arm_deadline) {
            tcp().expires_after(m_server.options.header_timeout);
        }
        if (const auto ec = parse_buffered(*m_parser, m_buffer, true)) {
            on_read_error(ec, "read header");
            return;
        }
        if (m_parser->is_header_done()) {
            on_header();
            return;
        }
        http::async_read_header(
            m_stream, m_buffer, *m_parser,
            beast::bind_front_handler(&HttpSession::on_read_header, this->shared_from_this()));
    }

    void on_read_header(beast::error_code ec, std::size_t) {
        if (ec) {
            on_read_error(ec, "read header");
            return;
        }
        on_header();
    }

    void on_header() {
        if (m_parser->is_done()) {
            handle_request(); // no body
            return;
        }
        const auto& request = m_parser->get();
        if (beast::iequals(request[http::field::expect], "100-continue")) {
            // curl sends this for larger bodies and would otherwise wait a second before sending.
            m_state = State::writing;
            m_continue.emplace(http::status::continue_, request.version());
            tcp().expires_after(m_server.options.write_timeout);
            http::async_write(m_stream, *m_continue,
                              beast::bind_front_handler(&HttpSession::on_write_continue,
                                                        this->shared_from_this()));
            return;
        }
        do_read_body();
    }

    void on_write_continue(beast::error_code ec, std::size_t) {
        m_continue.reset();
        if (ec) {
            fail(ec, "write 100 Continue");
            return;
        }
        do_read_body();
    }

    void do_read_body() {
        m_state = State::reading;
        tcp().expires_after(m_server.options.body_timeout);
        if (const auto ec = parse_buffered(*m_parser, m_buffer, false)) {
            on_read_error(ec, "read body");
            return;
        }
        if (m_parser->is_done()) {
            handle_request(); // the body came with the header
            return;
        }
        // Beast sizes each read by the buffer's free capacity: make room for the rest of a
        // Content-Length body (up to k_max_wait_read_bytes) so it arrives in as few reads.
        if (const auto remaining = m_parser->content_length_remaining()) {
            m_buffer.reserve(m_buffer.size() + static_cast<std::size_t>(std::min<std::uint64_t>(
                                                   *remaining, k_max_wait_read_bytes)));
        }
        http::async_read(
            m_stream, m_buffer, *m_parser,
            beast::bind_front_handler(&HttpSession::on_read_body, this->shared_from_this()));
    }

    void on_read_body(beast::error_code ec, std::size_t) {
        if (ec) {
            on_read_error(ec, "read body");
            return;
        }
        handle_request();
    }

    void on_read_error(beast::error_code ec, const char* what) {
        if (ec == http::error::body_limit) {
            // SPEC §4: the body as sent is limited → 413. Beast reports a Content-Length over the
            // limit right after the header, a chunked body when it grows past it.
            answer_error(413, "request body exceeds " +
                                  std::to_string(m_server.options.max_body_bytes) + " bytes");
            return;
        }
        if (ec == http::error::header_limit) {
            answer_error(431, "request header exceeds " +
                                  std::to_string(m_server.options.max_header_bytes) + " bytes");
            return;
        }
        if (is_parse_error(ec)) {
            answer_error(400, "malformed HTTP request: " + ec.message());
            return;
        }
        fail(ec, what); // timeout, reset, the client closing mid-request, or force_close
    }

    void handle_request() {
        m_state = State::handling;
        m_first_request = false;
        auto& message = m_parser->get();
        m_last_request_bytes = message.body().size() + k_header_allowance_bytes;
        HttpRequest request = take_request(message, m_from_loopback);
        const bool keep_alive = message.keep_alive();
        const unsigned version = message.version();

        // No try/catch: a handler does not throw (STYLE item 3); if it does, the exception leaves
        // the loop and HttpServer::run() rethrows it (see there).
        HttpResponse response = m_server.handler(std::move(request));
        m_parser.reset();
        if (response.deferred) {
            start_deferred(response.deferred, version, keep_alive);
            return;
        }
        // Once the server stops, the request in hand is answered and the connection closed.
        write_response(std::move(response), version, keep_alive && !m_server.stopping.load());
    }

    // The handler answers later (HttpResponse::deferred): nothing is read from the connection
    // until the answer is written. The responder owns the session meanwhile (so shutdown waits
    // for it, up to its grace) and posts the answer onto the session's strand.
    void start_deferred(const std::function<void(HttpResponder)>& deferred, unsigned version,
                        bool keep_alive) {
        m_state = State::deferred;
        const std::uint64_t request = ++m_deferred_request;
        HttpResponder respond = [self = this->shared_from_this(), request, version,
                                 keep_alive](HttpResponse answer) {
            asio::post(self->m_stream.get_executor(), [self, request, version, keep_alive,
                                                       answer = std::move(answer)]() mutable {
                self->on_deferred_answer(request, std::move(answer), version, keep_alive);
            });
        };
        deferred(std::move(respond)); // as the handler: what it throws ends run()
    }

    void on_deferred_answer(std::uint64_t request, HttpResponse answer, unsigned version,
                            bool keep_alive) {
        if (m_state != State::deferred || request != m_deferred_request) {
            return; // closed meanwhile (force_close), or a responder called twice
        }
        if (answer.deferred) {
            spdlog::error("serve: a deferred answer was deferred again; answering 500");
            answer = error_response(500, "internal error");
        }
        write_response(std::move(answer), version, keep_alive && !m_server.stopping.load());
    }

    // Answers a request that cannot be read on (too large, malformed), then closes: what follows
    // on the connection cannot be trusted to start a new request.
    void answer_error(int status, std::string message) {
        spdlog::debug("serve: {} from {}: {}", status, m_peer, message);
        m_linger = true;
        write_response(error_response(status, message), 11, false);
    }

    // Writes the answer (ResponseWriter serialises it) and, on a plain connection, at once: an
    // answer fits the socket buffer nearly always, and then the session goes on without a trip
    // through the event loop. What does not fit (and every TLS answer) is written asynchronously
    // under write_timeout.
    void write_response(HttpResponse&& response, unsigned version, bool keep_alive) {
        if (response.status < 100 || response.status > 599) {
            spdlog::error("serve: request handler returned status {}; answering 500",
                          response.status);
            response.status = 500;
        }
        m_writer.compose(std::move(response), version, keep_alive);
        m_state = State::writing;
        const std::string& head = m_writer.head();
        const std::string& body = m_writer.body();

        std::array<asio::const_buffer, 2> buffers{asio::buffer(head), asio::buffer(body)};
        if (!k_tls && m_write_at_once) {
            beast::error_code ec;
            const std::size_t total = head.size() + body.size();
            const std::size_t written = tcp().socket().write_some(buffers, ec);
            if (!ec && written == total) {
                if (m_buffer.size() > 0) {
                    // A pipelined request is waiting: go on from the event loop, so that a burst
                    // of them does not nest calls on the stack.
                    asio::post(m_stream.get_executor(),
                               beast::bind_front_handler(&HttpSession::on_write,
                                                         this->shared_from_this(),
                                                         beast::error_code{}, written));
                    return;
                }
                on_write({}, written);
                return;
            }
            if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
                on_write(ec, 0);
                return;
            }
            if (!ec) {
                // Partly written: the rest goes asynchronously.
                if (written < head.size()) {
                    buffers[0] = asio::buffer(head) + written;
                } else {
                    buffers[0] = asio::const_buffer();
                    buffers[1] = asio::buffer(body) + (written - head.size());
                }
            }
        }
        tcp().expires_after(m_server.options.write_timeout);
        asio::async_write(
            m_stream, buffers,
            beast::bind_front_handler(&HttpSession::on_write, this->shared_from_this()));
    }

    void on_write(beast::error_code ec, std::size_t) {
        const bool close = m_writer.close_after();
        m_writer.written();
        if (ec) {
            fail(ec, "write");
            return;
        }
        if (m_linger) {
            do_linger();
            return;
        }
        if (close || m_server.stopping.load()) {
            do_close();
            return;
        }
        do_wait();
    }

    void do_linger() {
        m_state = State::closing;
        beast::error_code ignored;
        tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
        m_buffer.clear();
        // One deadline for the whole drain, not one per read.
        tcp().expires_after(k_linger_timeout);
        do_drain();
    }

    void do_drain() {
        tcp().async_read_some(
            m_buffer.prepare(k_read_chunk_bytes),
            beast::bind_front_handler(&HttpSession::on_drain, this->shared_from_this()));
    }

    void on_drain(beast::error_code ec, std::size_t) {
        if (ec) {
            return; // EOF, the deadline or an error: the destructor closes the socket
        }
        m_buffer.clear();
        do_drain();
    }

    // The normal end of a connection: a FIN (TLS: close_notify first), then the destructor closes.
    void do_close() {
        m_state = State::closing;
        if constexpr (k_tls) {
            tcp().expires_after(k_tls_close_timeout);
            m_stream.async_shutdown(
                beast::bind_front_handler(&HttpSession::on_tls_shutdown, this->shared_from_this()));
        } else {
            beast::error_code ignored;
            tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
        }
    }

    void on_tls_shutdown(beast::error_code ec) {
        if (ec && ec != asio::error::eof && ec != ssl::error::stream_truncated) {
            fail(ec, "TLS shutdown");
        }
    }

    // Cancels whatever is pending; its handler sees operation_aborted and the session ends.
    void close_now() {
        m_state = State::closing;
        tcp().close();
    }

    // The one place that reports a connection's errors. Connections end for ordinary reasons
    // (the client closed, a deadline passed, the server stopped), so this logs at debug only.
    void fail(beast::error_code ec, const char* what) {
        if (ec == http::error::end_of_stream || ec == asio::error::eof ||
            ec == asio::error::operation_aborted) {
            return;
        }
        if (ec == beast::error::timeout) {
            spdlog::debug("serve: {} from {}: timed out", what, m_peer);
            return;
        }
        spdlog::debug("serve: {} from {}: {}", what, m_peer, ec.message());
    }

    HttpServer::Impl& m_server;
    Stream m_stream;
    beast::flat_buffer m_buffer;
    std::optional<RequestParser> m_parser;
    std::optional<http::response<http::empty_body>> m_continue;
    ResponseWriter m_writer; // the answer being written
    std::size_t m_last_request_bytes = 0;
    bool m_write_at_once = false; // plain socket in non-blocking mode
    std::string m_peer = "?";
    bool m_from_loopback = false;
    bool m_first_request = true;
    bool m_linger = false;
    State m_state = State::handshake;
    std::uint64_t m_deferred_request = 0; // which deferred answer the session waits for
};

} // namespace evrelay::server_detail
