// The only translation unit in tests/support that compiles Boost.Beast: it is slow to compile,
// and nothing else needs it.
//
// core/server compiles Beast with std::string_view; match it so both copies of Beast's inline
// code in one test binary are the same (otherwise an ODR violation).
#ifndef BOOST_BEAST_USE_STD_STRING_VIEW
#define BOOST_BEAST_USE_STD_STRING_VIEW
#endif

#include "tests/support/recording_upstream.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <optional>
#include <stdexcept>
#include <sys/socket.h>
#include <thread>
#include <atomic>
#include <utility>

namespace evrelay::test {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

// Large enough for any payload a test sends (the real upstream limit is far lower, which is
// what set_max_body_bytes models).
constexpr std::uint64_t k_request_body_limit = 256ull * 1024 * 1024;
// A stalled request is released by set_stall(false) or the destructor; this only guards against
// a test that forgets both.
constexpr auto k_max_stall = std::chrono::minutes(5);

std::string to_lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

// Local gunzip (all members) so the test support does not depend on the code it tests.
std::optional<std::string> gunzip(const std::string& in) {
    z_stream zs{};
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
        return std::nullopt;
    }
    std::string out;
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    char chunk[64 * 1024];
    bool ok = false;
    for (;;) {
        zs.next_out = reinterpret_cast<Bytef*>(chunk);
        zs.avail_out = sizeof chunk;
        int rc = inflate(&zs, Z_NO_FLUSH);
        out.append(chunk, sizeof chunk - zs.avail_out);
        if (rc == Z_STREAM_END) {
            if (zs.avail_in == 0) {
                ok = true;
                break;
            }
            // Another gzip member follows.
            if (inflateReset(&zs) != Z_OK) {
                break;
            }
            continue;
        }
        if (rc != Z_OK) {
            break; // corrupt data, or truncated (Z_BUF_ERROR with no input left)
        }
    }
    inflateEnd(&zs);
    if (!ok) {
        return std::nullopt;
    }
    return out;
}

std::string http_date(std::chrono::seconds offset) {
    std::time_t now = std::time(nullptr) + static_cast<std::time_t>(offset.count());
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return buf;
}

} // namespace

std::string RecordedRequest::header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
}

struct RecordingUpstream::Impl {
    asio::io_context ioc;
    std::optional<asio::ssl::context> tls; // set: every connection is TLS
    tcp::acceptor acceptor{ioc};
    std::uint16_t port = 0;

    mutable std::mutex mutex;
    // Signalled when a request is recorded, the stall is lifted, or the server stops.
    mutable std::condition_variable changed;
    std::vector<RecordedRequest> requests;
    // Bumped by clear() so a released stalled request does not update a record that is gone.
    std::uint64_t generation = 0;
    std::deque<int> script;
    std::map<std::string, std::deque<int>> path_scripts;
    int default_status = 202;
    // set_resource(): GET path → (body, ETag).
    std::map<std::string, std::pair<std::string, std::string>> resources;
    bool stall = false;
    std::atomic<std::chrono::seconds> date_offset{std::chrono::seconds(0)}; // of the Date header
    std::size_t max_body_bytes = 0;
    bool stopping = false;

    std::thread accept_thread;
    std::vector<std::thread> connection_threads;
    // Open connection sockets, so the destructor can shut them down to unblock their reads.
    std::map<std::uint64_t, std::shared_ptr<tcp::socket>> sockets;
    std::uint64_t next_socket_id = 0;

    void listen(); // binds 127.0.0.1:0 and starts accepting
    void accept_loop();
    void serve(std::uint64_t id, const std::shared_ptr<tcp::socket>& socket);
    // Reads requests and answers them on `stream` (the socket, or TLS over it) until it closes.
    template <class Stream> void serve_requests(Stream& stream);
    // What to answer: a status, and for a resource its body and ETag.
    struct Answer {
        int status = 202;
        std::string body;
        std::string etag;
    };
    // Records the request; returns the answer, or nullopt to close without answering (the
    // server stopped while the request was stalled).
    std::optional<Answer> handle(const http::request<http::string_body>& request);
    int next_status_locked(const std::string& target);
};

void RecordingUpstream::Impl::accept_loop() {
    for (;;) {
        auto socket = std::make_shared<tcp::socket>(ioc);
        beast::error_code ec;
        acceptor.accept(*socket, ec);
        std::lock_guard lock(mutex);
        if (stopping) {
            return;
        }
        if (ec) {
            // Transient (e.g. EMFILE): don't spin.
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            continue;
        }
        std::uint64_t id = next_socket_id++;
        sockets.emplace(id, socket);
        connection_threads.emplace_back([this, id, socket] { serve(id, socket); });
    }
}

template <class Stream> void RecordingUpstream::Impl::serve_requests(Stream& stream) {
    beast::flat_buffer buffer;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(k_request_body_limit);
        beast::error_code ec;
        http::read(stream, buffer, parser, ec);
        if (ec) {
            break; // peer closed, malformed request, or the server is stopping
        }
        const auto& request = parser.get();
        std::optional<Answer> answer = handle(request);
        if (!answer) {
            break;
        }
        http::response<http::string_body> response{static_cast<http::status>(answer->status),
                                                   request.version()};
        response.set(http::field::date, http_date(date_offset.load()));
        response.set(http::field::server, "evrelay-test-upstream");
        if (!answer->etag.empty()) {
            response.set(http::field::etag, answer->etag);
        }
        if (!answer->body.empty()) {
            response.set(http::field::content_type, "application/json");
        }
        response.body() = std::move(answer->body);
        response.prepare_payload();
        response.keep_alive(request.keep_alive());
        http::write(stream, response, ec);
        if (ec || !request.keep_alive()) {
            break;
        }
    }
}

void RecordingUpstream::Impl::serve(std::uint64_t id, const std::shared_ptr<tcp::socket>& socket) {
    if (tls) {
        asio::ssl::stream<tcp::socket&> stream(*socket, *tls);
        beast::error_code ec;
        stream.handshake(asio::ssl::stream_base::server, ec);
        if (!ec) {
            serve_requests(stream);
        }
    } else {
        serve_requests(*socket);
    }
    // Deregister before closing, so the destructor never shuts down a reused descriptor.
    {
        std::lock_guard lock(mutex);
        sockets.erase(id);
    }
    beast::error_code ignored;
    socket->shutdown(tcp::socket::shutdown_both, ignored);
    socket->close(ignored);
}

std::optional<RecordingUpstream::Impl::Answer>
RecordingUpstream::Impl::handle(const http::request<http::string_body>& request) {
    RecordedRequest record;
    record.method = std::string(request.method_string());
    record.target = std::string(request.target());
    for (const auto& field : request) {
        std::string name = to_lower(field.name_string());
        auto [it, inserted] = record.headers.emplace(name, std::string(field.value()));
        if (!inserted) {
            it->second += ", ";
            it->second += std::string(field.value());
        }
    }
    record.raw_body = request.body();
    record.received = std::chrono::steady_clock::now();

    std::optional<int> fixed_status; // decided by the body, not by the script
    if (to_lower(record.header("content-encoding")) == "gzip") {
        if (auto body = gunzip(record.raw_body)) {
            record.body = std::move(*body);
        } else {
            record.gzip_error = true;
            fixed_status = 400;
        }
    } else {
        record.body = record.raw_body;
    }

    std::unique_lock lock(mutex);
    if (!fixed_status && max_body_bytes != 0 && record.body.size() > max_body_bytes) {
        fixed_status = 413;
    }
    if (const auto resource = resources.find(record.target);
        resource != resources.end() && record.method == "GET" && !stall) {
        // A path script (401, 503 …) comes first; then 304 for the current ETag, else 200.
        Answer answer;
        const auto scripted = path_scripts.find(record.target);
        if (scripted != path_scripts.end() && !scripted->second.empty()) {
            answer.status = next_status_locked(record.target);
        } else if (!resource->second.second.empty() &&
                   record.header("if-none-match") == resource->second.second) {
            answer.status = 304;
        } else {
            answer.status = 200;
            answer.body = resource->second.first;
            answer.etag = resource->second.second;
        }
        record.status = answer.status;
        requests.push_back(std::move(record));
        changed.notify_all();
        return answer;
    }
    if (!stall) {
        int status = fixed_status ? *fixed_status : next_status_locked(record.target);
        record.status = status;
        requests.push_back(std::move(record));
        changed.notify_all();
        return Answer{status, {}, {}};
    }

    // Stalled: record now (status 0) so tests can see the request arrived, answer later.
    std::size_t index = requests.size();
    std::uint64_t recorded_generation = generation;
    requests.push_back(std::move(record));
    changed.notify_all();
    changed.wait_for(lock, k_max_stall, [this] { return !stall || stopping; });
    if (stopping) {
        return std::nullopt;
    }
    // The client of a stalled request has usually given up (that is why tests stall), so it
    // answers with the default status and leaves the script for the requests that matter.
    int status = fixed_status ? *fixed_status : default_status;
    if (generation == recorded_generation && index < requests.size()) {
        requests[index].status = status;
    }
    return Answer{status, {}, {}};
}

int RecordingUpstream::Impl::next_status_locked(const std::string& target) {
    auto path_it = path_scripts.find(target);
    if (path_it != path_scripts.end() && !path_it->second.empty()) {
        int status = path_it->second.front();
        path_it->second.pop_front();
        return status;
    }
    if (!script.empty()) {
        int status = script.front();
        script.pop_front();
        return status;
    }
    return default_status;
}

void RecordingUpstream::Impl::listen() {
    tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
    port = acceptor.local_endpoint().port();
    accept_thread = std::thread([this] { accept_loop(); });
}

RecordingUpstream::RecordingUpstream() : m_impl(std::make_unique<Impl>()) {
    m_impl->listen();
}

RecordingUpstream::RecordingUpstream(const TlsFiles& tls) : m_impl(std::make_unique<Impl>()) {
    auto& context = m_impl->tls.emplace(asio::ssl::context::tls_server);
    context.use_certificate_chain_file(tls.certificate);
    context.use_private_key_file(tls.private_key, asio::ssl::context::pem);
    m_impl->listen();
}

RecordingUpstream::~RecordingUpstream() {
    auto& impl = *m_impl;
    {
        std::lock_guard lock(impl.mutex);
        impl.stopping = true;
        impl.changed.notify_all();
    }
    // shutdown() on a listening socket wakes a blocked accept() on Linux; a connection to
    // ourselves is the fallback that wakes it anywhere.
    ::shutdown(impl.acceptor.native_handle(), SHUT_RDWR);
    {
        beast::error_code ignored;
        tcp::socket wake(impl.ioc);
        wake.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), impl.port), ignored);
    }
    impl.accept_thread.join();
    beast::error_code ignored;
    impl.acceptor.close(ignored);

    std::vector<std::thread> threads;
    {
        std::lock_guard lock(impl.mutex);
        // Only the OS call: the socket objects belong to their connection threads.
        for (auto& [id, socket] : impl.sockets) {
            ::shutdown(socket->native_handle(), SHUT_RDWR);
        }
        threads.swap(impl.connection_threads);
    }
    for (auto& thread : threads) {
        thread.join();
    }
}

std::uint16_t RecordingUpstream::port() const {
    return m_impl->port;
}

std::string RecordingUpstream::url() const {
    return std::string(m_impl->tls ? "https" : "http") +
           "://127.0.0.1:" + std::to_string(m_impl->port);
}

void RecordingUpstream::script(std::vector<int> statuses) {
    std::lock_guard lock(m_impl->mutex);
    m_impl->script.assign(statuses.begin(), statuses.end());
}

void RecordingUpstream::script_path(const std::string& path, std::vector<int> statuses) {
    std::lock_guard lock(m_impl->mutex);
    m_impl->path_scripts[path].assign(statuses.begin(), statuses.end());
}

void RecordingUpstream::set_resource(const std::string& path, std::string body, std::string etag) {
    std::lock_guard lock(m_impl->mutex);
    m_impl->resources[path] = {std::move(body), std::move(etag)};
}

void RecordingUpstream::set_date_offset(std::chrono::seconds offset) {
    m_impl->date_offset.store(offset);
}

void RecordingUpstream::set_default_status(int status) {
    std::lock_guard lock(m_impl->mutex);
    m_impl->default_status = status;
}

void RecordingUpstream::set_stall(bool stall) {
    std::lock_guard lock(m_impl->mutex);
    m_impl->stall = stall;
    m_impl->changed.notify_all();
}

void RecordingUpstream::set_max_body_bytes(std::size_t bytes) {
    std::lock_guard lock(m_impl->mutex);
    m_impl->max_body_bytes = bytes;
}

std::vector<RecordedRequest> RecordingUpstream::requests() const {
    std::lock_guard lock(m_impl->mutex);
    return m_impl->requests;
}

std::size_t RecordingUpstream::request_count() const {
    std::lock_guard lock(m_impl->mutex);
    return m_impl->requests.size();
}

bool RecordingUpstream::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(m_impl->mutex);
    return m_impl->changed.wait_for(lock, timeout,
                                    [this, n] { return m_impl->requests.size() >= n; });
}

void RecordingUpstream::clear() {
    std::lock_guard lock(m_impl->mutex);
    m_impl->requests.clear();
    ++m_impl->generation;
}

} // namespace evrelay::test
