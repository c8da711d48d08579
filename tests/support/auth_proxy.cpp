#include "tests/support/auth_proxy.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <utility>

namespace evrelay::test {

namespace {

constexpr std::size_t k_max_head_bytes = 64 * 1024;
constexpr std::size_t k_max_refused_body_bytes = 64ull * 1024 * 1024;
// How often a blocked connection looks at the stop flag (the destructor also shuts its sockets
// down, which wakes it at once).
constexpr int k_poll_ms = 100;
// A client that sends nothing for this long is dropped: no wait in a test is unbounded.
constexpr auto k_idle_limit = std::chrono::seconds(30);

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
        return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    });
    return out;
}

// Local base64 so the test support does not depend on the code it tests.
std::string base64(std::string_view in) {
    static constexpr char k_alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const auto n = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
        out += {k_alphabet[(n >> 18) & 63], k_alphabet[(n >> 12) & 63], k_alphabet[(n >> 6) & 63],
                k_alphabet[n & 63]};
    }
    if (i + 1 == in.size()) {
        const auto n = static_cast<unsigned char>(in[i]) << 16;
        out += {k_alphabet[(n >> 18) & 63], k_alphabet[(n >> 12) & 63], '=', '='};
    } else if (i + 2 == in.size()) {
        const auto n = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8);
        out += {k_alphabet[(n >> 18) & 63], k_alphabet[(n >> 12) & 63], k_alphabet[(n >> 6) & 63],
                '='};
    }
    return out;
}

bool send_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t sent = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR) {
            continue;
        }
        if (sent <= 0) {
            return false;
        }
        data.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
}

// One request head as the proxy reads it.
struct RequestHead {
    std::string method;
    std::string target;
    std::string version;
    std::vector<std::pair<std::string, std::string>> headers; // as sent, in order

    std::string header(std::string_view lower_name) const {
        for (const auto& [name, value] : headers) {
            if (lower(name) == lower_name) {
                return value;
            }
        }
        return {};
    }
};

std::optional<RequestHead> parse_head(std::string_view head) {
    RequestHead parsed;
    std::size_t line_end = head.find("\r\n");
    const std::string_view request_line = head.substr(0, line_end);
    const std::size_t first_space = request_line.find(' ');
    const std::size_t last_space = request_line.rfind(' ');
    if (first_space == std::string_view::npos || last_space == first_space) {
        return std::nullopt;
    }
    parsed.method = request_line.substr(0, first_space);
    parsed.target = request_line.substr(first_space + 1, last_space - first_space - 1);
    parsed.version = request_line.substr(last_space + 1);
    while (line_end != std::string_view::npos && line_end + 2 < head.size()) {
        const std::size_t start = line_end + 2;
        line_end = head.find("\r\n", start);
        const std::string_view line = head.substr(start, line_end - start);
        const std::size_t colon = line.find(':');
        if (line.empty() || colon == std::string_view::npos) {
            continue;
        }
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') {
            value.remove_prefix(1);
        }
        parsed.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
    }
    return parsed;
}

// "127.0.0.1:8080" (or "[::1]"-less "localhost:8080") to a port on 127.0.0.1; nullopt for
// anything else: the test proxy reaches nothing but this machine.
std::optional<std::uint16_t> local_port(std::string_view host_port) {
    const std::size_t colon = host_port.rfind(':');
    if (colon == std::string_view::npos) {
        return std::nullopt;
    }
    const std::string_view host = host_port.substr(0, colon);
    if (host != "127.0.0.1" && host != "localhost") {
        return std::nullopt;
    }
    try {
        const int port = std::stoi(std::string(host_port.substr(colon + 1)));
        if (port <= 0 || port > 65535) {
            return std::nullopt;
        }
        return static_cast<std::uint16_t>(port);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

int connect_local(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

} // namespace

struct AuthProxy::Impl {
    std::string expected_authorization; // "" = none wanted
    int listen_fd = -1;
    std::uint16_t port = 0;
    std::atomic<bool> stopping{false};

    mutable std::mutex mutex;
    std::size_t tunnels = 0;
    std::size_t forwarded = 0;
    std::size_t refused = 0;
    std::vector<std::string> authorizations;
    std::map<std::uint64_t, int> open_fds; // every socket a connection thread holds, by id
    std::uint64_t next_fd_id = 0;
    std::thread accept_thread;
    std::vector<std::thread> connection_threads;

    void accept_loop();
    void serve(int client);
    // Reads into `buffer` until it holds a whole head; returns the head's length, 0 on failure.
    std::size_t read_head(int fd, std::string& buffer);
    // Reads and forgets `count` bytes (a refused request's body), so that closing the socket
    // does not reset the connection before the client has read the 407.
    void discard(int fd, std::size_t count, std::string& buffer);
    // Copies bytes both ways until either side closes.
    void pump(int a, int b);
    // Waits until `fd` is readable; false when stopping or idle for too long.
    bool wait_readable(int fd);
    std::uint64_t track(int fd);
    void untrack_and_close(std::uint64_t id, int fd);
    void refuse(int client, const RequestHead& head, std::string& buffer);
};

std::uint64_t AuthProxy::Impl::track(int fd) {
    std::lock_guard lock(mutex);
    const std::uint64_t id = next_fd_id++;
    open_fds.emplace(id, fd);
    return id;
}

void AuthProxy::Impl::untrack_and_close(std::uint64_t id, int fd) {
    {
        // Deregistered before closing, so the destructor never shuts down a reused descriptor.
        std::lock_guard lock(mutex);
        open_fds.erase(id);
    }
    ::close(fd);
}

void AuthProxy::Impl::accept_loop() {
    while (!stopping.load()) {
        const int client = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) {
            if (stopping.load()) {
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5)); // EMFILE and the like
            continue;
        }
        std::lock_guard lock(mutex);
        if (stopping.load()) {
            ::close(client);
            return;
        }
        connection_threads.emplace_back([this, client] { serve(client); });
    }
}

bool AuthProxy::Impl::wait_readable(int fd) {
    const auto deadline = std::chrono::steady_clock::now() + k_idle_limit;
    while (!stopping.load() && std::chrono::steady_clock::now() < deadline) {
        pollfd entry{fd, POLLIN, 0};
        const int ready = ::poll(&entry, 1, k_poll_ms);
        if (ready > 0) {
            return true;
        }
        if (ready < 0 && errno != EINTR) {
            return false;
        }
    }
    return false;
}

std::size_t AuthProxy::Impl::read_head(int fd, std::string& buffer) {
    std::array<char, 16 * 1024> chunk{};
    while (buffer.find("\r\n\r\n") == std::string::npos) {
        if (buffer.size() > k_max_head_bytes || !wait_readable(fd)) {
            return 0;
        }
        const ssize_t got = ::recv(fd, chunk.data(), chunk.size(), 0);
        if (got <= 0) {
            return 0;
        }
        buffer.append(chunk.data(), static_cast<std::size_t>(got));
    }
    return buffer.find("\r\n\r\n") + 4;
}

void AuthProxy::Impl::discard(int fd, std::size_t count, std::string& buffer) {
    std::size_t had = std::min(count, buffer.size());
    count -= had;
    std::array<char, 16 * 1024> chunk{};
    while (count > 0 && wait_readable(fd)) {
        const ssize_t got = ::recv(fd, chunk.data(), std::min(chunk.size(), count), 0);
        if (got <= 0) {
            return;
        }
        count -= static_cast<std::size_t>(got);
    }
}

void AuthProxy::Impl::pump(int a, int b) {
    std::array<char, 64 * 1024> chunk{};
    auto last_activity = std::chrono::steady_clock::now();
    while (!stopping.load() && std::chrono::steady_clock::now() - last_activity < k_idle_limit) {
        std::array<pollfd, 2> entries{pollfd{a, POLLIN, 0}, pollfd{b, POLLIN, 0}};
        const int ready = ::poll(entries.data(), entries.size(), k_poll_ms);
        if (ready < 0 && errno != EINTR) {
            return;
        }
        for (std::size_t i = 0; i < entries.size(); ++i) {
            if ((entries[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
                continue;
            }
            const int from = entries[i].fd;
            const int to = from == a ? b : a;
            const ssize_t got = ::recv(from, chunk.data(), chunk.size(), 0);
            if (got <= 0 ||
                !send_all(to, std::string_view(chunk.data(), static_cast<std::size_t>(got)))) {
                return;
            }
            last_activity = std::chrono::steady_clock::now();
        }
    }
}

void AuthProxy::Impl::refuse(int client, const RequestHead& head, std::string& buffer) {
    {
        std::lock_guard lock(mutex);
        ++refused;
    }
    std::size_t body = 0;
    try {
        const std::string length = head.header("content-length");
        body = length.empty() ? 0 : std::stoul(length);
    } catch (const std::exception&) {
        body = 0;
    }
    discard(client, std::min(body, k_max_refused_body_bytes), buffer);
    send_all(client, "HTTP/1.1 407 Proxy Authentication Required\r\n"
                     "Proxy-Authenticate: Basic realm=\"evrelay-test\"\r\n"
                     "Content-Length: 0\r\nConnection: close\r\n\r\n");
}

void AuthProxy::Impl::serve(int client) {
    const std::uint64_t client_id = track(client);
    std::string buffer;
    const std::size_t head_length = read_head(client, buffer);
    const std::optional<RequestHead> head =
        head_length == 0 ? std::nullopt
                         : parse_head(std::string_view(buffer).substr(0, head_length));
    if (!head) {
        untrack_and_close(client_id, client);
        return;
    }
    buffer.erase(0, head_length); // what follows the head: the start of a body or tunnel data
    const std::string authorization = head->header("proxy-authorization");
    {
        std::lock_guard lock(mutex);
        authorizations.push_back(authorization);
    }
    if (!expected_authorization.empty() && authorization != expected_authorization) {
        refuse(client, *head, buffer);
        untrack_and_close(client_id, client);
        return;
    }

    const bool tunnel = head->method == "CONNECT";
    std::string_view target = head->target;
    std::string path = "/";
    if (!tunnel) {
        constexpr std::string_view k_http = "http://";
        if (target.substr(0, k_http.size()) != k_http) {
            send_all(client, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
            untrack_and_close(client_id, client);
            return;
        }
        target.remove_prefix(k_http.size());
        const std::size_t slash = target.find('/');
        if (slash != std::string_view::npos) {
            path = target.substr(slash);
            target = target.substr(0, slash);
        }
    }
    const std::optional<std::uint16_t> port = local_port(target);
    const int upstream = port ? connect_local(*port) : -1;
    if (upstream < 0) {
        send_all(client, port ? "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"
                              : "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        untrack_and_close(client_id, client);
        return;
    }
    const std::uint64_t upstream_id = track(upstream);

    bool started = false;
    if (tunnel) {
        started = send_all(client, "HTTP/1.1 200 Connection established\r\n\r\n");
    } else {
        // Origin-form target, the proxy's own headers removed, one request per connection.
        std::string forwarded_head = head->method + " " + path + " " + head->version + "\r\n";
        for (const auto& [name, value] : head->headers) {
            const std::string name_lower = lower(name);
            if (name_lower != "proxy-authorization" && name_lower != "proxy-connection" &&
                name_lower != "connection" && name_lower != "keep-alive") {
                forwarded_head.append(name).append(": ").append(value).append("\r\n");
            }
        }
        forwarded_head += "Connection: close\r\n\r\n";
        started = send_all(upstream, forwarded_head);
    }
    if (started && send_all(upstream, buffer)) {
        {
            std::lock_guard lock(mutex);
            ++(tunnel ? tunnels : forwarded);
        }
        pump(client, upstream);
    }
    untrack_and_close(upstream_id, upstream);
    untrack_and_close(client_id, client);
}

AuthProxy::AuthProxy(const std::string& user, const std::string& password)
    : m_impl(std::make_unique<Impl>()) {
    Impl& impl = *m_impl;
    if (!user.empty() || !password.empty()) {
        impl.expected_authorization = "Basic " + base64(user + ":" + password);
    }
    impl.listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (impl.listen_fd < 0) {
        throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    }
    const int on = 1;
    ::setsockopt(impl.listen_fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(impl.listen_fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(impl.listen_fd, SOMAXCONN) != 0 ||
        ::getsockname(impl.listen_fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        const std::string error = std::strerror(errno);
        ::close(impl.listen_fd);
        throw std::runtime_error("auth proxy: bind/listen: " + error);
    }
    impl.port = ntohs(address.sin_port);
    impl.accept_thread = std::thread([&impl] { impl.accept_loop(); });
}

AuthProxy::~AuthProxy() {
    Impl& impl = *m_impl;
    impl.stopping.store(true);
    // shutdown() on a listening socket wakes a blocked accept() on Linux.
    ::shutdown(impl.listen_fd, SHUT_RDWR);
    impl.accept_thread.join();
    ::close(impl.listen_fd);
    std::vector<std::thread> threads;
    {
        std::lock_guard lock(impl.mutex);
        for (const auto& [id, fd] : impl.open_fds) {
            ::shutdown(fd, SHUT_RDWR);
        }
        threads.swap(impl.connection_threads);
    }
    for (auto& thread : threads) {
        thread.join();
    }
}

std::uint16_t AuthProxy::port() const {
    return m_impl->port;
}

std::string AuthProxy::url() const {
    return "http://127.0.0.1:" + std::to_string(m_impl->port);
}

std::size_t AuthProxy::tunnels() const {
    std::lock_guard lock(m_impl->mutex);
    return m_impl->tunnels;
}

std::size_t AuthProxy::forwarded() const {
    std::lock_guard lock(m_impl->mutex);
    return m_impl->forwarded;
}

std::size_t AuthProxy::refused() const {
    std::lock_guard lock(m_impl->mutex);
    return m_impl->refused;
}

std::vector<std::string> AuthProxy::authorizations() const {
    std::lock_guard lock(m_impl->mutex);
    return m_impl->authorizations;
}

} // namespace evrelay::test
