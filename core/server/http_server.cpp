// HttpServer: the listener (listen(), accepting, the connection cap, TLS), the shutdown sequence
// and the threads that run the loop.
//
// The one translation unit of core that compiles Boost.Beast and Asio: they are slow to compile
// and nothing else needs them (STYLE item 11). The server's other parts are internal headers
// included only here — server_impl.hpp (the state they share), session.hpp (one connection),
// request_body.hpp (reading a request) — so that splitting the source by concept does not
// compile Beast more than once; response_writer.cpp is separate because it needs only Beast's
// status table. The shape follows Beast's advanced server (STYLE §2, item 6): a listener and
// self-owning sessions, each on its own strand, a deadline on the stream before every read, a
// parser re-created for every request, one place that reports errors. Shutdown is built by hand
// as the flex-awaitable example does it (item 7), because cancel_after is newer than Boost 1.74.

#include "core/server/http_server.hpp"

#include "core/server/server_impl.hpp"
#include "core/server/session.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <openssl/ssl.h>
#include <thread>
#include <unistd.h>
#include <utility>

namespace evrelay {

using namespace server_detail;

namespace {

// accept() failing for lack of descriptors would fail again at once; wait before retrying.
constexpr auto k_accept_retry_delay = std::chrono::milliseconds(100);
// After shutdown's grace the remaining sessions are closed; their handlers need a moment on the
// loop to run and release the sockets before the loop stops.
constexpr auto k_cancel_wait = std::chrono::milliseconds(100);

// Appended to a rate-limited warning (util::LogThrottle).
std::string suppressed_note(std::uint64_t suppressed) {
    return suppressed > 0 ? fmt::format("; {} similar warnings suppressed", suppressed) : "";
}

} // namespace

HttpServer::Impl::Impl(HttpServerOptions server_options, RequestHandler request_handler)
    : options(std::move(server_options)), handler(std::move(request_handler)),
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
    // Relay's tlsMinVersion: 1.2 (what the options above leave) or 1.3.
    const int oldest =
        options.tls_min_version == TlsMinVersion::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
    if (SSL_CTX_set_min_proto_version(context.native_handle(), oldest) != 1) {
        tls_context.reset();
        return make_error(ErrorKind::config, "TLS: OpenSSL refused the minimum protocol version");
    }
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
        task->fn(); // as a request handler: what it throws ends run()
        arm_periodic(impl, task);
    });
}

} // namespace

void HttpServer::Impl::abort_with(std::exception_ptr error) {
    {
        std::lock_guard lock(failure_mutex);
        if (!failure) {
            failure = std::move(error);
        }
    }
    ioc.stop(); // thread-safe; the other threads return from ioc.run() too
}

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

// Exceptions: a handler, a periodic task or a posted function does not throw (STYLE item 3:
// exceptions are for programming errors and start-up only). If one does anyway, catching it on
// the loop would serve on with an invariant broken, and letting it leave a thread would
// terminate the process without a word. So the thread that caught it keeps the first exception
// and stops the loop at once (no graceful shutdown: the server's state cannot be trusted); every
// thread returns, and run() rethrows the exception on its caller's thread, for cli/main.cpp —
// the one place that catches — to report it and exit.
void HttpServer::run() {
    Impl& impl = *m_impl;
    auto run_loop = [&impl] {
        try {
            impl.ioc.run();
        } catch (...) {
            impl.abort_with(std::current_exception());
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
    if (impl.failure) {
        std::rethrow_exception(impl.failure);
    }
}

void HttpServer::every(std::chrono::milliseconds interval, std::function<void()> fn) {
    Impl& impl = *m_impl;
    // A strand per timer: fn never overlaps itself.
    auto task = std::make_shared<PeriodicTask>(
        PeriodicTask{asio::steady_timer(asio::make_strand(impl.ioc)), interval, std::move(fn)});
    asio::post(task->timer.get_executor(), [&impl, task] { arm_periodic(impl, task); });
}

void HttpServer::post(std::function<void()> fn) {
    asio::post(m_impl->ioc, std::move(fn));
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
