// The one translation unit of core that compiles Boost.Beast and Asio: they are slow to compile
// and nothing else needs them (STYLE item 11). The shape follows Beast's advanced server
// (STYLE §2, item 6): a listener and self-owning sessions, each on its own strand, a deadline on
// the stream before every read, a parser re-created for every request, one place that reports
// errors. Shutdown is built by hand as the flex-awaitable example does it (item 7), because
// cancel_after is newer than Boost 1.74.

#include "core/server/http_server.hpp"

#include "core/util/log_throttle.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <pthread.h>
#include <thread>
#include <type_traits>
#include <unistd.h>
#include <unordered_map>
#include <utility>

namespace evrelay {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

// How much an idle session reads at once while it waits for the next request: at least this,
// and as much as the previous request took (header allowance plus body), up to
// k_max_wait_read_bytes, so that a client posting bodies of similar size has its whole next
// request read by one recv() and parsed without another trip through the event loop. The
// session's buffer keeps that capacity (bounded by the maximum) between requests.
constexpr std::size_t k_read_chunk_bytes = 4096;
constexpr std::size_t k_max_wait_read_bytes = 64 * 1024;
constexpr std::size_t k_header_allowance_bytes = 1024;
// A body is read into a string with this much spare capacity past its end: simdjson reads up to
// 64 bytes past the JSON (SIMDJSON_PADDING), and with that room the inbound handler and the
// splitter parse the body in place instead of reallocating and copying it.
constexpr std::size_t k_body_padding_bytes = 64;
// After an error answer (413, 400, 431) the client may still be sending its body; closing with
// unread data makes the kernel send a reset, which can destroy the answer before the client reads
// it. So the session stops sending and discards input for at most this long ("lingering close").
constexpr auto k_linger_timeout = std::chrono::seconds(1);
// A TLS close_notify exchange at the end of a connection must not hold the session for long.
constexpr auto k_tls_close_timeout = std::chrono::seconds(2);
// accept() failing for lack of descriptors would fail again at once; wait before retrying.
constexpr auto k_accept_retry_delay = std::chrono::milliseconds(100);
// After shutdown's grace the remaining sessions are closed; their handlers need a moment on the
// loop to run and release the sockets before the loop stops.
constexpr auto k_cancel_wait = std::chrono::milliseconds(100);
// The signal thread's sigtimedwait timeout: how quickly it notices that the server is gone.
constexpr long k_signal_poll_ns = 100'000'000;

// The Date header's value, formatted once per second per thread (strftime per answer showed up
// in profiles).
std::string_view http_date() {
    thread_local std::time_t cached_second = -1;
    thread_local char buffer[64];
    thread_local std::size_t length = 0;
    const std::time_t now = std::time(nullptr);
    if (now != cached_second) {
        std::tm tm{};
        gmtime_r(&now, &tm);
        length = std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached_second = now;
    }
    return std::string_view(buffer, length);
}

bool iequals_ascii(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return (x | 0x20) == (y | 0x20);
           });
}

// A request body read into a std::string, as http::string_body, except that the reader reserves
// Content-Length plus k_body_padding_bytes up front and appends (string_body resizes, which
// zero-fills, then copies), so the body never needs to grow for simdjson's padding.
struct RequestBody {
    using value_type = std::string;

    static std::uint64_t size(const value_type& body) { return body.size(); }

    class reader {
      public:
        template <bool isRequest, class Fields>
        reader(http::header<isRequest, Fields>&, value_type& body) : m_body(body) {}

        void init(const boost::optional<std::uint64_t>& length, beast::error_code& ec) {
            if (length) {
                if (*length > m_body.max_size() - k_body_padding_bytes) {
                    ec = http::error::buffer_overflow;
                    return;
                }
                m_body.reserve(static_cast<std::size_t>(*length) + k_body_padding_bytes);
            }
            ec = {};
        }

        template <class ConstBufferSequence>
        std::size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
            const std::size_t bytes = beast::buffer_bytes(buffers);
            if (bytes > m_body.max_size() - m_body.size()) {
                ec = http::error::buffer_overflow;
                return 0;
            }
            for (const auto buffer : beast::buffers_range_ref(buffers)) {
                m_body.append(static_cast<const char*>(buffer.data()), buffer.size());
            }
            ec = {};
            return bytes;
        }

        void finish(beast::error_code& ec) { ec = {}; }

      private:
        value_type& m_body;
    };
};

// {"message":"…"}: the messages are ours and Beast's (ASCII), so escaping quotes, backslashes and
// control characters is all it needs.
std::string json_message(std::string_view message) {
    std::string out = "{\"message\":\"";
    for (const char c : message) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            out += ' ';
        } else {
            out += c;
        }
    }
    out += "\"}";
    return out;
}

// Appended to a rate-limited warning (util::LogThrottle).
std::string suppressed_note(std::uint64_t suppressed) {
    return suppressed > 0 ? fmt::format("; {} similar warnings suppressed", suppressed) : "";
}

std::string endpoint_text(const tcp::endpoint& endpoint) {
    const auto address = endpoint.address();
    if (address.is_v6()) {
        return "[" + address.to_string() + "]:" + std::to_string(endpoint.port());
    }
    return address.to_string() + ":" + std::to_string(endpoint.port());
}

bool is_loopback(const asio::ip::address& address) {
    if (address.is_v6() && address.to_v6().is_v4_mapped()) {
        // A dual-stack listener on "::" sees IPv4 peers as ::ffff:a.b.c.d.
        return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).is_loopback();
    }
    return address.is_loopback();
}

// Errors of the HTTP grammar (the client sent something that is not HTTP/1.1), as opposed to the
// connection ending or a limit.
bool is_parse_error(const beast::error_code& ec) {
    static const beast::error_code any_http = http::error::bad_target;
    return ec.category() == any_http.category() && ec != http::error::end_of_stream &&
           ec != http::error::partial_message && ec != http::error::short_read &&
           ec != http::error::body_limit && ec != http::error::header_limit;
}

// Statuses whose response may carry neither a body nor a Content-Length (RFC 9110 §8.6).
bool status_forbids_body(int status) {
    return (status >= 100 && status < 200) || status == 204 || status == 304;
}

// What the server can ask of a session from outside its strand. Both post onto the strand.
class SessionControl {
  public:
    virtual ~SessionControl() = default;
    // The server stops: close now if waiting for a request, else after answering the one in hand.
    virtual void request_stop() = 0;
    // Shutdown's grace is over: close whatever the session is doing.
    virtual void force_close() = 0;
};

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

} // namespace

struct HttpServer::Impl {
    Impl(HttpServerOptions options_, RequestHandler handler_);
    ~Impl();

    void do_accept();
    void on_accept(beast::error_code ec, tcp::socket socket);
    void start_session(tcp::socket socket);
    void session_gone(SessionControl* session);
    std::vector<std::shared_ptr<SessionControl>> live_sessions();
    void begin_shutdown(std::chrono::milliseconds grace);
    void finish();
    Result<void> load_tls();

    const HttpServerOptions options;
    const RequestHandler handler;
    const int thread_count;

    // Everything sessions touch in their destructors is declared before the io_context: sessions
    // still queued in it when it is destroyed end after it, and these must still exist then.
    std::atomic<std::size_t> live{0};
    std::atomic<bool> stopping{false};      // stop_accepting() was called
    std::atomic<bool> shutting_down{false}; // shutdown() was called
    std::atomic<bool> finished{false};      // the loop is being stopped
    std::mutex sessions_mutex;
    std::unordered_map<SessionControl*, std::weak_ptr<SessionControl>> sessions;
    util::LogThrottle cap_warning{std::chrono::seconds(10)};
    util::LogThrottle accept_warning{std::chrono::seconds(10)};
    std::optional<ssl::context> tls_context;

    std::atomic<bool> signal_threads_stop{false};
    std::vector<std::thread> signal_threads;

    asio::io_context ioc;
    // Keeps run() going while nothing is pending (before listen(), after stop_accepting()).
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
    // Accepting, the retry timer and the shutdown sequence each have a strand of their own.
    tcp::acceptor acceptor;
    asio::steady_timer accept_retry_timer;
    asio::strand<asio::io_context::executor_type> control;
    asio::steady_timer shutdown_timer;
};

namespace {

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

    // Feeds the parser what the buffer already holds, up to the end of the header (header_only)
    // or of the message, without a trip through the event loop (Beast's read operations post
    // their completion even when they read nothing). False with `ec` set on an error; needing
    // more input is not one.
    bool parse_buffered(bool header_only, beast::error_code& ec) {
        while (m_buffer.size() > 0 &&
               !(header_only ? m_parser->is_header_done() : m_parser->is_done())) {
            const std::size_t used = m_parser->put(m_buffer.data(), ec);
            m_buffer.consume(used);
            if (ec == http::error::need_more) {
                ec = {};
                return true;
            }
            if (ec) {
                return false;
            }
            if (used == 0) {
                break; // let Beast's read operation take it from here
            }
        }
        return true;
    }

    void start_request(bool arm_deadline) {
        m_state = State::reading;
        m_parser.emplace();
        m_parser->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(
            m_server.options.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
        m_parser->body_limit(static_cast<std::uint64_t>(m_server.options.max_body_bytes));
        if (arm_deadline) {
            tcp().expires_after(m_server.options.header_timeout);
        }
        beast::error_code ec;
        if (!parse_buffered(true, ec)) {
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
        beast::error_code ec;
        if (!parse_buffered(false, ec)) {
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
        HttpRequest request;
        request.method = std::string(message.method_string());
        request.target = std::string(message.target());
        for (const auto& field : message) {
            request.headers.emplace_back(std::string(field.name_string()),
                                         std::string(field.value()));
        }
        request.body = std::move(message.body());
        request.from_loopback = m_from_loopback;
        const bool keep_alive = message.keep_alive();
        const unsigned version = message.version();

        HttpResponse response;
        try {
            response = m_server.handler(std::move(request));
        } catch (const std::exception& e) {
            // A handler must not throw (STYLE item 3); if one does, this request fails alone.
            spdlog::error("serve: request handler failed on {} {}: {}", message.method_string(),
                          message.target(), e.what());
            response = internal_error();
        } catch (...) {
            spdlog::error("serve: request handler failed on {} {}", message.method_string(),
                          message.target());
            response = internal_error();
        }
        m_parser.reset();
        if (response.deferred) {
            start_deferred(std::move(response.deferred), version, keep_alive);
            return;
        }
        // Once the server stops, the request in hand is answered and the connection closed.
        write_response(std::move(response), version, keep_alive && !m_server.stopping.load());
    }

    // The handler answers later (HttpResponse::deferred): nothing is read from the connection
    // until the answer is written. The responder owns the session meanwhile (so shutdown waits
    // for it, up to its grace) and posts the answer onto the session's strand.
    void start_deferred(std::function<void(HttpResponder)> deferred, unsigned version,
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
        try {
            deferred(std::move(respond));
        } catch (const std::exception& e) {
            spdlog::error("serve: deferred request handler failed: {}", e.what());
            on_deferred_answer(request, internal_error(), version, keep_alive);
        } catch (...) {
            spdlog::error("serve: deferred request handler failed");
            on_deferred_answer(request, internal_error(), version, keep_alive);
        }
    }

    void on_deferred_answer(std::uint64_t request, HttpResponse answer, unsigned version,
                            bool keep_alive) {
        if (m_state != State::deferred || request != m_deferred_request) {
            return; // closed meanwhile (force_close), or a responder called twice
        }
        if (answer.deferred) {
            spdlog::error("serve: a deferred answer was deferred again; answering 500");
            answer = internal_error();
        }
        write_response(std::move(answer), version, keep_alive && !m_server.stopping.load());
    }

    static HttpResponse internal_error() {
        return HttpResponse{
            500, {{"Content-Type", "application/json"}}, json_message("internal error"), {}};
    }

    // Answers a request that cannot be read on (too large, malformed), then closes: what follows
    // on the connection cannot be trusted to start a new request.
    void answer_error(int status, std::string message) {
        spdlog::debug("serve: {} from {}: {}", status, m_peer, message);
        m_linger = true;
        write_response(
            HttpResponse{status, {{"Content-Type", "application/json"}}, json_message(message), {}},
            11, false);
    }

    // Serialises the answer by hand (the status line, the handler's headers, Date, Connection
    // and Content-Length as Beast's serializer would write them) and, on a plain connection,
    // writes it at once: an answer fits the socket buffer nearly always, and then the session
    // goes on without a trip through the event loop. What does not fit (and every TLS answer)
    // is written asynchronously under write_timeout.
    void write_response(HttpResponse&& response, unsigned version, bool keep_alive) {
        if (response.status < 100 || response.status > 599) {
            spdlog::error("serve: request handler returned status {}; answering 500",
                          response.status);
            response.status = 500;
        }
        const int status = response.status;
        const bool has_body = !status_forbids_body(status);
        std::string& head = m_out_head;
        head.clear();
        head += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
        head += std::to_string(status);
        head += ' ';
        head += http::obsolete_reason(static_cast<http::status>(status));
        head += "\r\n";
        bool has_date = false;
        for (const auto& [name, value] : response.headers) {
            // Framing and connection headers are the server's, as prepare_payload() and
            // keep_alive() made them with Beast's serializer.
            if (iequals_ascii(name, "Content-Length") || iequals_ascii(name, "Transfer-Encoding") ||
                iequals_ascii(name, "Connection")) {
                continue;
            }
            has_date = has_date || iequals_ascii(name, "Date");
            head.append(name).append(": ").append(value).append("\r\n");
        }
        if (!has_date) {
            head.append("Date: ").append(http_date()).append("\r\n");
        }
        if (version >= 11 && !keep_alive) {
            head += "Connection: close\r\n";
        } else if (version < 11 && keep_alive) {
            head += "Connection: keep-alive\r\n";
        }
        if (has_body) {
            head.append("Content-Length: ").append(std::to_string(response.body.size()));
            head += "\r\n";
            m_out_body = std::move(response.body);
        } else {
            m_out_body.clear();
        }
        head += "\r\n";
        m_close_after_write = !keep_alive;
        m_state = State::writing;

        std::array<asio::const_buffer, 2> buffers{asio::buffer(m_out_head),
                                                  asio::buffer(m_out_body)};
        if (!k_tls && m_write_at_once) {
            beast::error_code ec;
            const std::size_t total = m_out_head.size() + m_out_body.size();
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
                if (written < m_out_head.size()) {
                    buffers[0] = asio::buffer(m_out_head) + written;
                } else {
                    buffers[0] = asio::const_buffer();
                    buffers[1] = asio::buffer(m_out_body) + (written - m_out_head.size());
                }
            }
        }
        tcp().expires_after(m_server.options.write_timeout);
        asio::async_write(
            m_stream, buffers,
            beast::bind_front_handler(&HttpSession::on_write, this->shared_from_this()));
    }

    void on_write(beast::error_code ec, std::size_t) {
        const bool close = m_close_after_write;
        m_out_body.clear();
        if (m_out_body.capacity() > k_max_wait_read_bytes) {
            m_out_body.shrink_to_fit(); // a large answer (e.g. /metrics) is not kept
        }
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
    std::optional<http::request_parser<RequestBody>> m_parser;
    std::optional<http::response<http::empty_body>> m_continue;
    std::string m_out_head; // the answer being written: status line and headers
    std::string m_out_body; // and its body
    std::size_t m_last_request_bytes = 0;
    bool m_close_after_write = false;
    bool m_write_at_once = false; // plain socket in non-blocking mode
    std::string m_peer = "?";
    bool m_from_loopback = false;
    bool m_first_request = true;
    bool m_linger = false;
    State m_state = State::handshake;
    std::uint64_t m_deferred_request = 0; // which deferred answer the session waits for
};

} // namespace

HttpServer::Impl::Impl(HttpServerOptions options_, RequestHandler handler_)
    : options(std::move(options_)), handler(std::move(handler_)),
      thread_count(options.threads > 0
                       ? options.threads
                       : std::max(1, static_cast<int>(std::thread::hardware_concurrency()))),
      ioc(thread_count), acceptor(asio::make_strand(ioc)),
      accept_retry_timer(acceptor.get_executor()), control(asio::make_strand(ioc)),
      shutdown_timer(control) {
    work.emplace(ioc.get_executor());
}

HttpServer::Impl::~Impl() {
    // Sessions destroyed with the io_context below must not start the shutdown sequence.
    finished.store(true);
    signal_threads_stop.store(true);
    for (auto& thread : signal_threads) {
        thread.join();
    }
}

Result<void> HttpServer::Impl::load_tls() {
    const bool has_cert = !options.tls_cert_file.empty();
    const bool has_key = !options.tls_key_file.empty();
    if (has_cert != has_key) {
        return make_error(ErrorKind::config, has_cert ? "TLS certificate given without a key file"
                                                      : "TLS key given without a certificate file");
    }
    if (!has_cert) {
        return {};
    }
    // Name the file and the reason up front; OpenSSL's own messages do neither well.
    for (const auto& [what, file] : {std::pair{"certificate", &options.tls_cert_file},
                                     std::pair{"key", &options.tls_key_file}}) {
        if (::access(file->c_str(), R_OK) != 0) {
            return make_error(ErrorKind::config,
                              fmt::format("TLS {} file {}: {}", what, *file, std::strerror(errno)));
        }
    }
    auto& context = tls_context.emplace(ssl::context::tls_server);
    context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                        ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                        ssl::context::single_dh_use);
    beast::error_code ec;
    context.use_certificate_chain_file(options.tls_cert_file, ec);
    if (ec) {
        tls_context.reset();
        return make_error(ErrorKind::config, fmt::format("TLS certificate file {}: {}",
                                                         options.tls_cert_file, ec.message()));
    }
    context.use_private_key_file(options.tls_key_file, ssl::context::pem, ec);
    if (ec) {
        tls_context.reset();
        return make_error(ErrorKind::config,
                          fmt::format("TLS key file {}: {}", options.tls_key_file, ec.message()));
    }
    return {};
}

void HttpServer::Impl::do_accept() {
    // Each connection gets a strand of its own (STYLE §2).
    acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
        on_accept(ec, std::move(socket));
    });
}

void HttpServer::Impl::on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
        return; // stop_accepting()
    }
    if (ec) {
        std::uint64_t suppressed = 0;
        if (accept_warning.allow(suppressed)) {
            spdlog::warn("serve: accept: {}{}", ec.message(), suppressed_note(suppressed));
        }
        // Out of descriptors or memory fails again at once: retry a little later, not in a spin.
        accept_retry_timer.expires_after(k_accept_retry_delay);
        accept_retry_timer.async_wait([this](beast::error_code wait_ec) {
            if (!wait_ec && acceptor.is_open()) {
                do_accept();
            }
        });
        return;
    }
    if (stopping.load()) {
        return; // the socket closes as it goes out of scope
    }
    if (options.max_connections > 0 && live.load() >= options.max_connections) {
        // Closing at once costs the client one round trip and the server nothing; a 503 would
        // need a session and a write, exactly what the cap is there to bound.
        std::uint64_t suppressed = 0;
        if (cap_warning.allow(suppressed)) {
            spdlog::warn("serve: {} connections open (max-connections); closing new ones{}",
                         options.max_connections, suppressed_note(suppressed));
        }
        beast::error_code ignored;
        socket.close(ignored);
    } else {
        live.fetch_add(1);
        start_session(std::move(socket));
    }
    do_accept();
}

void HttpServer::Impl::start_session(tcp::socket socket) {
    std::shared_ptr<SessionControl> control_handle;
    if (tls_context) {
        auto session =
            std::make_shared<HttpSession<TlsStream>>(*this, std::move(socket), *tls_context);
        control_handle = session;
        {
            std::lock_guard lock(sessions_mutex);
            sessions.emplace(control_handle.get(), control_handle);
        }
        session->run();
    } else {
        auto session = std::make_shared<HttpSession<PlainStream>>(*this, std::move(socket));
        control_handle = session;
        {
            std::lock_guard lock(sessions_mutex);
            sessions.emplace(control_handle.get(), control_handle);
        }
        session->run();
    }
}

void HttpServer::Impl::session_gone(SessionControl* session) {
    {
        std::lock_guard lock(sessions_mutex);
        sessions.erase(session);
    }
    const std::size_t left = live.fetch_sub(1) - 1;
    if (left == 0 && shutting_down.load() && !finished.load()) {
        asio::post(control, [this] { finish(); });
    }
}

std::vector<std::shared_ptr<SessionControl>> HttpServer::Impl::live_sessions() {
    std::vector<std::shared_ptr<SessionControl>> out;
    std::lock_guard lock(sessions_mutex);
    out.reserve(sessions.size());
    for (const auto& [key, weak] : sessions) {
        if (auto session = weak.lock()) {
            out.push_back(std::move(session));
        }
    }
    return out;
}

void HttpServer::Impl::begin_shutdown(std::chrono::milliseconds grace) {
    if (finished.load()) {
        return;
    }
    if (live.load() == 0) {
        finish();
        return;
    }
    shutdown_timer.expires_after(grace);
    shutdown_timer.async_wait([this](beast::error_code ec) {
        if (ec || finished.load()) {
            return; // the last session ended first: finish() cancelled the timer
        }
        const auto remaining = live_sessions();
        if (!remaining.empty()) {
            spdlog::info("serve: shutdown grace over; closing {} connection(s) still busy",
                         remaining.size());
        }
        for (const auto& session : remaining) {
            session->force_close();
        }
        shutdown_timer.expires_after(k_cancel_wait);
        shutdown_timer.async_wait([this](beast::error_code wait_ec) {
            if (!wait_ec) {
                finish();
            }
        });
    });
}

void HttpServer::Impl::finish() {
    if (finished.exchange(true)) {
        return;
    }
    shutdown_timer.cancel();
    work.reset();
    ioc.stop();
}

namespace {

struct PeriodicTask {
    asio::steady_timer timer;
    std::chrono::milliseconds interval;
    std::function<void()> fn;
};

// The next interval starts when fn returns, so a slow fn delays the next call instead of piling
// calls up. The pending wait owns the task; it ends with the loop.
void arm_periodic(HttpServer::Impl& impl, const std::shared_ptr<PeriodicTask>& task) {
    task->timer.expires_after(task->interval);
    task->timer.async_wait([&impl, task](beast::error_code ec) {
        if (ec || impl.finished.load()) {
            return;
        }
        try {
            task->fn();
        } catch (const std::exception& e) {
            spdlog::error("serve: periodic task failed: {}", e.what());
        }
        arm_periodic(impl, task);
    });
}

} // namespace

HttpServer::HttpServer(HttpServerOptions options, RequestHandler handler)
    : m_impl(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() = default;

Result<std::uint16_t> HttpServer::listen() {
    Impl& impl = *m_impl;
    if (auto tls = impl.load_tls(); !tls) {
        return tl::unexpected(tls.error());
    }
    const std::string& bind = impl.options.bind;
    beast::error_code ec;
    tcp::endpoint endpoint;
    const auto address = asio::ip::make_address(bind, ec);
    if (!ec) {
        endpoint = tcp::endpoint(address, impl.options.port);
    } else {
        // Not an address literal: a host name such as "localhost".
        tcp::resolver resolver(impl.ioc);
        const auto results =
            resolver.resolve(bind, std::to_string(impl.options.port), tcp::resolver::passive, ec);
        if (ec || results.empty()) {
            return make_error(ErrorKind::config, fmt::format("resolve bind address {}: {}", bind,
                                                             ec ? ec.message() : "no address"));
        }
        endpoint = results.begin()->endpoint();
    }
    const std::string where = endpoint_text(endpoint);
    // Each step separately, so a failure says which one (STYLE §2).
    impl.acceptor.open(endpoint.protocol(), ec);
    if (ec) {
        return make_error(ErrorKind::io, fmt::format("open {}: {}", where, ec.message()));
    }
    impl.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (ec) {
        return make_error(ErrorKind::io, fmt::format("set_option {}: {}", where, ec.message()));
    }
    impl.acceptor.bind(endpoint, ec);
    if (ec) {
        beast::error_code ignored;
        impl.acceptor.close(ignored);
        return make_error(ErrorKind::io, fmt::format("bind {}: {}", where, ec.message()));
    }
    impl.acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        beast::error_code ignored;
        impl.acceptor.close(ignored);
        return make_error(ErrorKind::io, fmt::format("listen {}: {}", where, ec.message()));
    }
    const std::uint16_t port = impl.acceptor.local_endpoint(ec).port();
    asio::post(impl.acceptor.get_executor(), [&impl] { impl.do_accept(); });
    return port;
}

void HttpServer::run() {
    Impl& impl = *m_impl;
    auto run_loop = [&impl] {
        for (;;) {
            try {
                impl.ioc.run();
                return;
            } catch (const std::exception& e) {
                // Nothing should throw through a handler (STYLE item 3); keep serving if it does.
                spdlog::error("serve: unexpected exception in the event loop: {}", e.what());
            }
        }
    };
    std::vector<std::thread> threads;
    threads.reserve(static_cast<std::size_t>(impl.thread_count - 1));
    for (int i = 1; i < impl.thread_count; ++i) {
        threads.emplace_back(run_loop);
    }
    run_loop();
    for (auto& thread : threads) {
        thread.join();
    }
}

void HttpServer::every(std::chrono::milliseconds interval, std::function<void()> fn) {
    Impl& impl = *m_impl;
    // A strand per timer: fn never overlaps itself.
    auto task = std::make_shared<PeriodicTask>(
        PeriodicTask{asio::steady_timer(asio::make_strand(impl.ioc)), interval, std::move(fn)});
    asio::post(task->timer.get_executor(), [&impl, task] { arm_periodic(impl, task); });
}

void HttpServer::on_signals(std::vector<int> signals, std::function<void(int)> fn) {
    Impl& impl = *m_impl;
    impl.signal_threads.emplace_back([&impl, signals = std::move(signals), fn = std::move(fn)] {
        sigset_t set;
        sigemptyset(&set);
        for (const int signal : signals) {
            sigaddset(&set, signal);
        }
        // sigtimedwait takes only signals blocked in the waiting thread; main() blocked them
        // before any thread started, and this makes sure of it for this thread.
        pthread_sigmask(SIG_BLOCK, &set, nullptr);
        const timespec timeout{0, k_signal_poll_ns};
        while (!impl.signal_threads_stop.load()) {
            const int signal = sigtimedwait(&set, nullptr, &timeout);
            if (signal > 0) {
                asio::post(impl.ioc, [fn, signal] {
                    try {
                        fn(signal);
                    } catch (const std::exception& e) {
                        spdlog::error("serve: signal {} handler failed: {}", signal, e.what());
                    }
                });
            }
        }
    });
}

void HttpServer::stop_accepting() {
    Impl& impl = *m_impl;
    impl.stopping.store(true);
    asio::post(impl.acceptor.get_executor(), [&impl] {
        beast::error_code ignored;
        impl.acceptor.close(ignored);
        impl.accept_retry_timer.cancel();
    });
    for (const auto& session : impl.live_sessions()) {
        session->request_stop();
    }
}

void HttpServer::shutdown(std::chrono::milliseconds grace) {
    stop_accepting();
    Impl& impl = *m_impl;
    if (impl.shutting_down.exchange(true)) {
        return;
    }
    asio::post(impl.control, [&impl, grace] { impl.begin_shutdown(grace); });
}

void HttpServer::stop() {
    shutdown(std::chrono::milliseconds(0));
}

std::size_t HttpServer::open_connections() const {
    return m_impl->live.load();
}

} // namespace evrelay
