// Internal to core/server: included only by http_server.cpp, the one translation unit of core that
// compiles Boost.Beast and Asio (they are slow to compile and nothing else needs them, STYLE item
// 11). The state the listener, the shutdown sequence and the sessions share: HttpServer::Impl.
#pragma once

#include "core/server/http_server.hpp"
#include "core/util/log_throttle.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>

#include <atomic>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace evrelay {

namespace server_detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// What the server can ask of a session from outside its strand. Both post onto the strand.
class SessionControl {
  public:
    virtual ~SessionControl() = default;
    // The server stops: close now if waiting for a request, else after answering the one in hand.
    virtual void request_stop() = 0;
    // Shutdown's grace is over: close whatever the session is doing.
    virtual void force_close() = 0;
};

// "127.0.0.1:8030", "[::1]:8030": for log lines and listen()'s errors.
inline std::string endpoint_text(const tcp::endpoint& endpoint) {
    const auto address = endpoint.address();
    if (address.is_v6()) {
        return "[" + address.to_string() + "]:" + std::to_string(endpoint.port());
    }
    return address.to_string() + ":" + std::to_string(endpoint.port());
}

} // namespace server_detail

struct HttpServer::Impl {
    using SessionControl = server_detail::SessionControl;

    Impl(HttpServerOptions server_options, RequestHandler request_handler);
    ~Impl();

    // The listener (http_server.cpp).
    Result<void> load_tls();
    void do_accept();
    void on_accept(boost::beast::error_code ec, boost::asio::ip::tcp::socket socket);
    void start_session(boost::asio::ip::tcp::socket socket);

    // The session registry: sessions add themselves when they start and leave in their
    // destructors.
    void session_gone(SessionControl* session);
    std::vector<std::shared_ptr<SessionControl>> live_sessions();

    // The shutdown sequence (http_server.cpp), on the `control` strand.
    void begin_shutdown(std::chrono::milliseconds grace);
    void finish();

    // An exception escaped a handler on one of run()'s threads: keep the first, stop the loop at
    // once (HttpServer::run() rethrows it).
    void abort_with(std::exception_ptr error);

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
    std::optional<boost::asio::ssl::context> tls_context;
    std::mutex failure_mutex;
    std::exception_ptr failure; // written by abort_with(), read by run() after the threads end

    boost::asio::io_context ioc;
    // Keeps run() going while nothing is pending (before listen(), after stop_accepting()).
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
    // Accepting, the retry timer and the shutdown sequence each have a strand of their own.
    boost::asio::ip::tcp::acceptor acceptor;
    boost::asio::steady_timer accept_retry_timer;
    boost::asio::strand<boost::asio::io_context::executor_type> control;
    boost::asio::steady_timer shutdown_timer;
};

} // namespace evrelay
