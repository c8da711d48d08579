// The upstream of bench/serve.sh: like bench_sink (epoll, keep-alive, Content-Length and chunked
// bodies, 202 to every POST) but it also COUNTS the events it receives, so that the benchmark
// can check that every event `serve` accepted reached the upstream instead of assuming it.
//
// Each request body is kept until it is complete, gunzipped when it says
// `Content-Encoding: gzip`, and its top-level array elements are counted with simdjson's DOM
// parser. Counting by JSON structure, not by searching for `"kind":`, matters: the fixture's
// events nest objects that have a `kind` of their own (`"reason":{"kind":"RULE_MATCH",…}`). A
// body that is not a JSON array is counted as `other_bodies` (diagnostic events are objects) and
// a body simdjson rejects as `bad_bodies`.
//
//   bench_serve_sink [--port N]   (0 or absent: an ephemeral port; prints "port=N" once listening)
//
// `GET /stats` answers one line:
//   requests=N body_bytes=N wire_bytes=N events=N gzip_bodies=N other_bodies=N bad_bodies=N
// (body_bytes after gunzip, wire_bytes as received), and the same line goes to stderr on SIGTERM.

#include "core/util/gzip.hpp"

#include <simdjson.h>

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <string_view>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <unordered_map>

namespace {

constexpr std::size_t k_read_bytes = 1u << 20;
constexpr std::size_t k_max_head_bytes = 64u << 10;
constexpr std::size_t k_max_body_bytes = 256u << 20;
constexpr std::string_view k_accepted = "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n";
constexpr std::string_view k_continue = "HTTP/1.1 100 Continue\r\n\r\n";

struct Totals {
    std::uint64_t requests = 0;
    std::uint64_t body_bytes = 0;
    std::uint64_t wire_bytes = 0;
    std::uint64_t events = 0;
    std::uint64_t gzip_bodies = 0;
    std::uint64_t other_bodies = 0;
    std::uint64_t bad_bodies = 0;
};

Totals g_totals;
volatile std::sig_atomic_t g_stop = 0;

enum class State { head, body_length, chunk_size, chunk_data, chunk_data_end, trailers };

struct Connection {
    int fd = -1;
    State state = State::head;
    std::string line; // the request head, or a chunk-size / trailer line
    std::string body; // reused across requests: its capacity also serves as simdjson padding
    std::uint64_t remaining = 0;
    bool gzip = false;
    bool is_stats = false;
    bool close_after = false;
    bool closing = false;
    bool watching_out = false; // EPOLLOUT registered
    std::string out;
};

std::string stats_line() {
    return "requests=" + std::to_string(g_totals.requests) +
           " body_bytes=" + std::to_string(g_totals.body_bytes) +
           " wire_bytes=" + std::to_string(g_totals.wire_bytes) +
           " events=" + std::to_string(g_totals.events) +
           " gzip_bodies=" + std::to_string(g_totals.gzip_bodies) +
           " other_bodies=" + std::to_string(g_totals.other_bodies) +
           " bad_bodies=" + std::to_string(g_totals.bad_bodies) + "\n";
}

bool iequals_prefix(std::string_view text, std::string_view prefix) {
    if (text.size() < prefix.size()) {
        return false;
    }
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        char c = text[i];
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
        if (c != prefix[i]) {
            return false;
        }
    }
    return true;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
        text.remove_prefix(1);
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
        text.remove_suffix(1);
    }
    return text;
}

// Counts the elements of a JSON array body; `body` may be grown for simdjson's padding. The DOM
// parser, not On Demand: without -march flags simdjson's On Demand is compiled for its scalar
// fallback kernel, while the DOM parser picks the best kernel for this CPU at run time (and it
// validates the whole body, too).
void count_events(std::string& body) {
    static simdjson::dom::parser parser;
    const std::size_t size = body.size();
    body.reserve(size + simdjson::SIMDJSON_PADDING);
    simdjson::dom::element root;
    if (parser.parse(body.data(), size, false).get(root) != simdjson::SUCCESS) {
        ++g_totals.bad_bodies;
        return;
    }
    simdjson::dom::array events;
    if (root.get_array().get(events) != simdjson::SUCCESS) {
        ++g_totals.other_bodies;
        return;
    }
    g_totals.events += events.size();
}

void finish_request(Connection& c) {
    if (c.is_stats) {
        const std::string body = stats_line();
        c.out += "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n" + body;
    } else {
        ++g_totals.requests;
        g_totals.wire_bytes += c.body.size();
        if (c.gzip) {
            ++g_totals.gzip_bodies;
            auto plain = evrelay::util::gunzip(c.body, k_max_body_bytes);
            if (plain) {
                c.body = std::move(*plain);
            } else {
                c.body.clear();
            }
        }
        g_totals.body_bytes += c.body.size();
        if (c.body.empty()) {
            ++g_totals.bad_bodies;
        } else {
            count_events(c.body);
        }
        c.out += k_accepted;
    }
    if (c.close_after) {
        c.closing = true;
    }
    c.state = State::head;
    c.line.clear();
    c.body.clear();
}

// Parses the head in c.line.
void start_request(Connection& c) {
    std::string_view head = c.line;
    const std::size_t first_end = head.find("\r\n");
    const std::string_view request_line = head.substr(0, first_end);
    c.is_stats = request_line.substr(0, 11) == "GET /stats ";
    c.close_after = request_line.ends_with("HTTP/1.0");
    c.gzip = false;
    bool chunked = false;
    bool expect_continue = false;
    std::uint64_t length = 0;
    std::size_t pos = first_end + 2;
    while (pos < head.size()) {
        const std::size_t end = head.find("\r\n", pos);
        const std::string_view field = head.substr(pos, end - pos);
        pos = end + 2;
        if (iequals_prefix(field, "content-length:")) {
            length = std::strtoull(std::string(trim(field.substr(15))).c_str(), nullptr, 10);
        } else if (iequals_prefix(field, "transfer-encoding:")) {
            chunked = iequals_prefix(trim(field.substr(18)), "chunked");
        } else if (iequals_prefix(field, "content-encoding:")) {
            c.gzip = iequals_prefix(trim(field.substr(17)), "gzip");
        } else if (iequals_prefix(field, "expect:")) {
            expect_continue = iequals_prefix(trim(field.substr(7)), "100-continue");
        } else if (iequals_prefix(field, "connection:")) {
            c.close_after = iequals_prefix(trim(field.substr(11)), "close");
        }
    }
    c.line.clear();
    c.body.clear();
    if (expect_continue) {
        c.out += k_continue;
    }
    if (chunked) {
        c.state = State::chunk_size;
    } else if (length > 0) {
        c.state = State::body_length;
        c.remaining = length;
    } else {
        finish_request(c);
    }
}

// Takes up to c.remaining bytes of body from `data`; false when the body is too large.
bool take_body(Connection& c, std::string_view& data) {
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(c.remaining, data.size()));
    if (c.body.size() + n > k_max_body_bytes) {
        return false;
    }
    c.body.append(data.substr(0, n));
    c.remaining -= n;
    data.remove_prefix(n);
    return true;
}

// Consumes bytes read from the connection; false on a protocol error (the connection is closed).
bool consume(Connection& c, std::string_view data) {
    while (!data.empty()) {
        switch (c.state) {
        case State::head: {
            const std::size_t searched = c.line.size() >= 3 ? c.line.size() - 3 : 0;
            c.line.append(data);
            const std::size_t end = c.line.find("\r\n\r\n", searched);
            if (end == std::string::npos) {
                return c.line.size() <= k_max_head_bytes;
            }
            const std::size_t rest = c.line.size() - (end + 4);
            data = data.substr(data.size() - rest);
            c.line.resize(end + 2);
            start_request(c);
            break;
        }
        case State::body_length:
            if (!take_body(c, data)) {
                return false;
            }
            if (c.remaining == 0) {
                finish_request(c);
            }
            break;
        case State::chunk_size:
        case State::trailers: {
            const std::size_t newline = data.find('\n');
            if (newline == std::string_view::npos) {
                c.line.append(data);
                return c.line.size() <= k_max_head_bytes;
            }
            c.line.append(data.substr(0, newline));
            data.remove_prefix(newline + 1);
            const std::string_view line = trim(c.line);
            if (c.state == State::trailers) {
                if (line.empty()) {
                    finish_request(c);
                }
                c.line.clear();
                break;
            }
            char* end = nullptr;
            const std::string size_text(line.substr(0, line.find(';')));
            const std::uint64_t size = std::strtoull(size_text.c_str(), &end, 16);
            if (size_text.empty() || end != size_text.c_str() + size_text.size()) {
                return false;
            }
            c.line.clear();
            c.remaining = size;
            c.state = size == 0 ? State::trailers : State::chunk_data;
            break;
        }
        case State::chunk_data:
            if (!take_body(c, data)) {
                return false;
            }
            if (c.remaining == 0) {
                c.state = State::chunk_data_end;
            }
            break;
        case State::chunk_data_end: {
            // The CRLF after a chunk's data (a bare LF is tolerated).
            const char ch = data.front();
            data.remove_prefix(1);
            if (ch == '\n') {
                c.state = State::chunk_size;
            } else if (ch != '\r') {
                return false;
            }
            break;
        }
        }
    }
    return true;
}

// Writes what is pending; false when the connection is to be closed.
bool flush_out(Connection& c) {
    while (!c.out.empty()) {
        const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
        c.out.erase(0, static_cast<std::size_t>(n));
    }
    return !c.closing;
}

void on_signal(int) {
    g_stop = 1;
}

} // namespace

int main(int argc, char** argv) {
    int port = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--port" && i + 1 < argc) {
            port = std::atoi(argv[++i]);
        } else {
            std::fprintf(stderr, "usage: %s [--port N]\n", argv[0]);
            return 64;
        }
    }
    struct sigaction action {};
    action.sa_handler = on_signal;
    ::sigaction(SIGTERM, &action, nullptr);
    ::sigaction(SIGINT, &action, nullptr);

    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener, 1024) != 0) {
        std::fprintf(stderr, "cannot listen on 127.0.0.1:%d: %s\n", port, std::strerror(errno));
        return 71;
    }
    socklen_t length = sizeof address;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
    std::printf("port=%d\n", ntohs(address.sin_port));
    std::fflush(stdout);

    const int epoll = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = listener;
    ::epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event);

    std::unordered_map<int, std::unique_ptr<Connection>> connections;
    const auto buffer = std::make_unique<char[]>(k_read_bytes);
    const auto close_connection = [&](int fd) {
        ::epoll_ctl(epoll, EPOLL_CTL_DEL, fd, nullptr);
        ::close(fd);
        connections.erase(fd);
    };
    epoll_event ready[64];
    while (g_stop == 0) {
        const int count = ::epoll_wait(epoll, ready, 64, 500);
        for (int i = 0; i < count; ++i) {
            const int fd = ready[i].data.fd;
            if (fd == listener) {
                for (;;) {
                    const int client =
                        ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (client < 0) {
                        break;
                    }
                    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    auto connection = std::make_unique<Connection>();
                    connection->fd = client;
                    epoll_event client_event{};
                    client_event.events = EPOLLIN | EPOLLRDHUP;
                    client_event.data.fd = client;
                    ::epoll_ctl(epoll, EPOLL_CTL_ADD, client, &client_event);
                    connections.emplace(client, std::move(connection));
                }
                continue;
            }
            auto found = connections.find(fd);
            if (found == connections.end()) {
                continue;
            }
            Connection& c = *found->second;
            bool keep = true;
            if ((ready[i].events & EPOLLOUT) != 0) {
                keep = flush_out(c);
            }
            if (keep && (ready[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
                // One read per wake-up keeps connections fair; level-triggered epoll calls back.
                const ssize_t n = ::recv(fd, buffer.get(), k_read_bytes, 0);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                    keep = false;
                } else if (n > 0) {
                    keep =
                        consume(c, std::string_view(buffer.get(), static_cast<std::size_t>(n))) &&
                        flush_out(c);
                }
            }
            if (!keep) {
                close_connection(fd);
                continue;
            }
            if (c.watching_out == c.out.empty()) {
                c.watching_out = !c.out.empty();
                epoll_event update{};
                update.events = EPOLLIN | EPOLLRDHUP | (c.watching_out ? EPOLLOUT : 0u);
                update.data.fd = fd;
                ::epoll_ctl(epoll, EPOLL_CTL_MOD, fd, &update);
            }
        }
    }
    for (auto& [fd, connection] : connections) {
        ::close(fd);
    }
    std::fprintf(stderr, "bench_serve_sink: %s", stats_line().c_str());
    return 0;
}
