// The listener's fast paths (core/server/session.hpp, response_writer.cpp): requests parsed from
// what is already buffered, the idle read sized by the previous request, bodies reserved with
// simdjson's padding, answers written at once with the rest asynchronously, pipelined bursts.
// Behaviour only: raw POSIX sockets, every read and write bounded.
#include "core/server/http_server.hpp"
#include "core/util/fd.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <chrono>
#include <mutex>
#include <netinet/in.h>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <sys/time.h>
#include <thread>
#include <vector>

using namespace evrelay;
using namespace std::chrono_literals;

namespace {

constexpr int k_io_timeout_seconds = 5;

class RawClient {
  public:
    explicit RawClient(std::uint16_t port, int receive_buffer = 0)
        : m_fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        REQUIRE(m_fd);
        const timeval timeout{k_io_timeout_seconds, 0};
        ::setsockopt(m_fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        ::setsockopt(m_fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
        if (receive_buffer > 0) {
            ::setsockopt(m_fd.get(), SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
        }
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(m_fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    }

    bool send(std::string_view data) {
        while (!data.empty()) {
            const ssize_t n = ::send(m_fd.get(), data.data(), data.size(), MSG_NOSIGNAL);
            if (n <= 0) {
                return false;
            }
            data.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    // The body of the next response (Content-Length framed); nullopt on EOF or timeout.
    std::optional<std::string> read_body() {
        std::size_t header_end;
        while ((header_end = m_buffer.find("\r\n\r\n")) == std::string::npos) {
            if (!fill()) {
                return std::nullopt;
            }
        }
        const std::string head = m_buffer.substr(0, header_end);
        m_buffer.erase(0, header_end + 4);
        const std::size_t at = head.find("Content-Length: ");
        if (at == std::string::npos) {
            return std::nullopt;
        }
        const std::size_t length = std::stoul(head.substr(at + 16));
        while (m_buffer.size() < length) {
            if (!fill()) {
                return std::nullopt;
            }
        }
        std::string body = m_buffer.substr(0, length);
        m_buffer.erase(0, length);
        return body;
    }

  private:
    bool fill() {
        char chunk[65536];
        const ssize_t n = ::recv(m_fd.get(), chunk, sizeof chunk, 0);
        if (n <= 0) {
            return false;
        }
        m_buffer.append(chunk, static_cast<std::size_t>(n));
        return true;
    }

    util::Fd m_fd;
    std::string m_buffer;
};

class RunningServer {
  public:
    RunningServer(RequestHandler handler) : m_server(options(), std::move(handler)) {
        auto port = m_server.listen();
        REQUIRE(port);
        m_port = *port;
        m_thread = std::thread([this] { m_server.run(); });
    }
    ~RunningServer() {
        m_server.stop();
        m_thread.join();
    }
    std::uint16_t port() const { return m_port; }

  private:
    static HttpServerOptions options() {
        HttpServerOptions options;
        options.bind = "127.0.0.1";
        options.port = 0;
        options.threads = 2;
        options.header_timeout = 5s;
        options.body_timeout = 5s;
        options.idle_timeout = 5s;
        options.write_timeout = 5s;
        options.max_body_bytes = 64u << 20;
        return options;
    }

    HttpServer m_server;
    std::uint16_t m_port = 0;
    std::thread m_thread;
};

std::string pattern(std::size_t size, char seed) {
    std::string out(size, ' ');
    for (std::size_t i = 0; i < size; ++i) {
        out[i] = static_cast<char>('a' + (static_cast<std::size_t>(seed) + i * 7) % 26);
    }
    return out;
}

std::string post(const std::string& target, const std::string& body) {
    return "POST " + target +
           " HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
           body;
}

// Echoes the body; GET /big?N answers N bytes of pattern().
RequestHandler echo(std::mutex& mutex, std::vector<std::size_t>& spare) {
    return [&](HttpRequest&& request) {
        HttpResponse response;
        if (request.target.rfind("/big?", 0) == 0) {
            response.body = pattern(std::stoul(request.target.substr(5)), 'b');
            return response;
        }
        {
            std::lock_guard lock(mutex);
            spare.push_back(request.body.capacity() - request.body.size());
        }
        response.body = std::move(request.body);
        return response;
    };
}

} // namespace

TEST_CASE("HttpServer: bodies of changing sizes on one connection arrive whole, with padding",
          "[server]") {
    std::mutex mutex;
    std::vector<std::size_t> spare;
    RunningServer server(echo(mutex, spare));
    RawClient client(server.port());
    // Small, then larger than the idle read, larger than its 64 KiB cap, small again: the read
    // size follows the previous request and the rest of a body is read into reserved room.
    const std::vector<std::size_t> sizes{10, 20'000, 300'000, 5, 70'000, 1, 20'000};
    char seed = 'a';
    for (const std::size_t size : sizes) {
        const std::string body = pattern(size, seed++);
        REQUIRE(client.send(post("/bulk", body)));
        const auto echoed = client.read_body();
        REQUIRE(echoed);
        CHECK(echoed->size() == size);
        CHECK(*echoed == body);
    }
    std::lock_guard lock(mutex);
    REQUIRE(spare.size() == sizes.size());
    for (const std::size_t room : spare) {
        CHECK(room >= 64); // simdjson's padding: the handler parses the body in place
    }
}

TEST_CASE("HttpServer: a body that trickles in after its header arrives whole", "[server]") {
    std::mutex mutex;
    std::vector<std::size_t> spare;
    RunningServer server(echo(mutex, spare));
    RawClient client(server.port());
    const std::string body = pattern(50'000, 'x');
    const std::string request = post("/bulk", body);
    const std::size_t header = request.size() - body.size();
    REQUIRE(client.send(request.substr(0, header + 10)));
    std::this_thread::sleep_for(50ms);
    REQUIRE(client.send(request.substr(header + 10, 30'000)));
    std::this_thread::sleep_for(50ms);
    REQUIRE(client.send(request.substr(header + 30'010)));
    const auto echoed = client.read_body();
    REQUIRE(echoed);
    CHECK(*echoed == body);
}

TEST_CASE("HttpServer: an answer larger than the socket takes at once reaches a slow reader",
          "[server]") {
    std::mutex mutex;
    std::vector<std::size_t> spare;
    RunningServer server(echo(mutex, spare));
    RawClient client(server.port(), 4096);
    REQUIRE(client.send("GET /big?8000000 HTTP/1.1\r\nHost: t\r\n\r\n"));
    std::this_thread::sleep_for(200ms); // the first write fills the buffers; the rest waits
    const auto body = client.read_body();
    REQUIRE(body);
    CHECK(body->size() == 8'000'000);
    CHECK(*body == pattern(8'000'000, 'b'));
    // The connection goes on after the asynchronous part of the write.
    REQUIRE(client.send(post("/bulk", "after")));
    const auto after = client.read_body();
    REQUIRE(after);
    CHECK(*after == "after");
}

TEST_CASE("HttpServer: a burst of pipelined requests is answered in order", "[server]") {
    std::mutex mutex;
    std::vector<std::size_t> spare;
    RunningServer server(echo(mutex, spare));
    RawClient client(server.port());
    constexpr int k_requests = 3000;
    std::string burst;
    for (int i = 0; i < k_requests; ++i) {
        burst += post("/p", std::to_string(i));
    }
    // Sent from a thread: the answers must be read while the burst is still being written.
    std::thread sender([&] { client.send(burst); });
    int answered = 0;
    for (int i = 0; i < k_requests; ++i) {
        const auto body = client.read_body();
        if (!body || *body != std::to_string(i)) {
            break;
        }
        ++answered;
    }
    sender.join();
    CHECK(answered == k_requests);
}
