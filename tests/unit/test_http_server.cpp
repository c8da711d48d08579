// Tests of the inbound listener against a hand-written client on raw POSIX sockets: no Beast in
// this file, so it compiles fast and does not use Beast to check Beast.
#include "tests/support/scratch_dir.hpp"

#include "core/server/http_server.hpp"
#include "core/util/fd.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <map>
#include <mutex>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <sys/time.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace evrelay;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

// Every client read and write gives up after this, so a server bug fails a test, never hangs it.
constexpr int k_io_timeout_seconds = 5;

std::chrono::milliseconds since(Clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

std::string to_lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

// Waits (bounded) until `done` holds, checking every few milliseconds.
template <class Predicate> bool eventually(Predicate done, std::chrono::milliseconds within) {
    const auto deadline = Clock::now() + within;
    while (!done()) {
        if (Clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

struct Response {
    int status = 0;
    std::map<std::string, std::string> headers; // lower-case names
    std::string body;

    std::string header(const std::string& lower_name) const {
        auto it = headers.find(lower_name);
        return it == headers.end() ? std::string() : it->second;
    }
};

// A minimal HTTP/1.1 client: writes raw bytes, reads Content-Length-framed responses.
class Client {
  public:
    explicit Client(std::uint16_t port) : m_fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        REQUIRE(m_fd);
        const timeval timeout{k_io_timeout_seconds, 0};
        ::setsockopt(m_fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        ::setsockopt(m_fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        m_connected = ::connect(m_fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    }

    bool connected() const { return m_connected; }

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

    // One response (skipping interim 1xx ones); nullopt if the connection ends or times out first.
    std::optional<Response> read_response() {
        for (;;) {
            std::size_t header_end;
            while ((header_end = m_buffer.find("\r\n\r\n")) == std::string::npos) {
                if (!fill()) {
                    return std::nullopt;
                }
            }
            Response response;
            const std::string head = m_buffer.substr(0, header_end);
            m_buffer.erase(0, header_end + 4);
            std::size_t line_end = head.find("\r\n");
            const std::string status_line = head.substr(0, line_end);
            if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12) {
                return std::nullopt;
            }
            response.status = std::stoi(status_line.substr(9, 3));
            while (line_end != std::string::npos) {
                const std::size_t start = line_end + 2;
                line_end = head.find("\r\n", start);
                const std::string line = head.substr(start, line_end - start);
                const std::size_t colon = line.find(':');
                if (colon != std::string::npos) {
                    std::string value = line.substr(colon + 1);
                    value.erase(0, value.find_first_not_of(' '));
                    response.headers[to_lower(line.substr(0, colon))] = value;
                }
            }
            if (response.status >= 100 && response.status < 200) {
                continue; // 100 Continue
            }
            const std::size_t length = response.headers.count("content-length")
                                           ? std::stoul(response.headers["content-length"])
                                           : 0;
            while (m_buffer.size() < length) {
                if (!fill()) {
                    return std::nullopt;
                }
            }
            response.body = m_buffer.substr(0, length);
            m_buffer.erase(0, length);
            return response;
        }
    }

    // True when the server ends the connection (EOF or reset) within `within`.
    bool closed_within(std::chrono::milliseconds within) {
        const auto deadline = Clock::now() + within;
        for (;;) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (left.count() < 0) {
                return false;
            }
            pollfd pfd{m_fd.get(), POLLIN, 0};
            const int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
            if (ready == 0) {
                return false;
            }
            if (ready < 0) {
                if (errno == EINTR) {
                    continue;
                }
                return false;
            }
            char chunk[4096];
            const ssize_t n = ::recv(m_fd.get(), chunk, sizeof chunk, 0);
            if (n <= 0) {
                return true;
            }
            m_buffer.append(chunk, static_cast<std::size_t>(n)); // data before the close
        }
    }

    // Reads until `text` has arrived and drops everything up to and including it.
    bool wait_for(std::string_view text) {
        std::size_t at;
        while ((at = m_buffer.find(text)) == std::string::npos) {
            if (!fill()) {
                return false;
            }
        }
        m_buffer.erase(0, at + text.size());
        return true;
    }

  private:
    bool fill() {
        char chunk[4096];
        const ssize_t n = ::recv(m_fd.get(), chunk, sizeof chunk, 0);
        if (n <= 0) {
            return false;
        }
        m_buffer.append(chunk, static_cast<std::size_t>(n));
        return true;
    }

    util::Fd m_fd;
    bool m_connected = false;
    std::string m_buffer;
};

// What the echo handler saw, for checks the response cannot carry.
struct Seen {
    std::mutex mutex;
    std::vector<HttpRequest> requests;

    std::vector<HttpRequest> all() {
        std::lock_guard lock(mutex);
        return requests;
    }
};

// Answers 200 with the request body and what it saw in X-Echo-* headers.
RequestHandler echo_handler(Seen& seen) {
    return [&seen](HttpRequest&& request) {
        HttpResponse response;
        response.headers = {
            {"X-Echo-Method", request.method},
            {"X-Echo-Target", request.target},
            {"X-Echo-Body-Length", std::to_string(request.body.size())},
            {"X-Echo-Tags", std::string(request.header("X-LaunchDarkly-Tags"))},
            {"X-Echo-Loopback", request.from_loopback ? "yes" : "no"},
        };
        response.body = request.body;
        std::lock_guard lock(seen.mutex);
        seen.requests.push_back(std::move(request));
        return response;
    };
}

HttpServerOptions test_options() {
    HttpServerOptions options;
    options.bind = "127.0.0.1";
    options.port = 0;
    options.threads = 2;
    options.header_timeout = 5s;
    options.body_timeout = 5s;
    options.idle_timeout = 5s;
    options.write_timeout = 5s;
    return options;
}

// Listens, runs the server on a thread, and always stops and joins it, even when a check fails.
class TestServer {
  public:
    TestServer(const HttpServerOptions& options, RequestHandler handler)
        : m_server(options, std::move(handler)) {
        auto port = m_server.listen();
        if (!port) {
            FAIL("listen: " << port.error().message);
        }
        m_port = *port;
    }

    ~TestServer() {
        if (m_thread.joinable()) {
            m_server.stop();
            m_thread.join();
        }
    }

    // Separate from construction so a test can add every()/post() first.
    void start() {
        m_thread = std::thread([this] {
            m_server.run();
            std::lock_guard lock(m_mutex);
            m_returned = true;
            m_changed.notify_all();
        });
    }

    bool wait_run_returned(std::chrono::milliseconds within) {
        std::unique_lock lock(m_mutex);
        return m_changed.wait_for(lock, within, [this] { return m_returned; });
    }

    HttpServer& server() { return m_server; }
    std::uint16_t port() const { return m_port; }

  private:
    HttpServer m_server;
    std::uint16_t m_port = 0;
    std::thread m_thread;
    std::mutex m_mutex;
    std::condition_variable m_changed;
    bool m_returned = false;
};

std::string post(const std::string& target, const std::string& body,
                 const std::string& extra_headers = "") {
    return "POST " + target +
           " HTTP/1.1\r\nHost: test\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
           extra_headers + "\r\n" + body;
}

std::string get(const std::string& target, const std::string& extra_headers = "") {
    return "GET " + target + " HTTP/1.1\r\nHost: test\r\n" + extra_headers + "\r\n";
}

std::string chunked_post(const std::string& target, const std::vector<std::string>& chunks) {
    std::string out =
        "POST " + target + " HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (const auto& chunk : chunks) {
        char size[32];
        std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
        out += size + chunk + "\r\n";
    }
    return out + "0\r\n\r\n";
}

} // namespace

TEST_CASE("HttpServer::listen", "[server]") {
    SECTION("returns the ephemeral port it bound") {
        HttpServer server(test_options(), [](HttpRequest&&) { return HttpResponse{}; });
        auto port = server.listen();
        REQUIRE(port);
        CHECK(*port != 0);
    }
    SECTION("a port in use: the error names the step and the address") {
        HttpServer first(test_options(), [](HttpRequest&&) { return HttpResponse{}; });
        auto port = first.listen();
        REQUIRE(port);
        auto options = test_options();
        options.port = *port;
        HttpServer second(options, [](HttpRequest&&) { return HttpResponse{}; });
        auto result = second.listen();
        REQUIRE_FALSE(result);
        CHECK(result.error().message ==
              "bind 127.0.0.1:" + std::to_string(*port) + ": Address already in use");
    }
    SECTION("a bad bind address") {
        auto options = test_options();
        options.bind = "no.such.host.invalid";
        HttpServer server(options, [](HttpRequest&&) { return HttpResponse{}; });
        auto result = server.listen();
        REQUIRE_FALSE(result);
        CHECK(result.error().message.find("no.such.host.invalid") != std::string::npos);
    }
    SECTION("TLS needs both files, and a missing file is named") {
        auto options = test_options();
        options.tls_cert_file = "/nonexistent/cert.pem";
        HttpServer half(options, [](HttpRequest&&) { return HttpResponse{}; });
        auto result = half.listen();
        REQUIRE_FALSE(result);
        CHECK(result.error().kind == ErrorKind::config);

        options.tls_key_file = "/nonexistent/key.pem";
        HttpServer missing(options, [](HttpRequest&&) { return HttpResponse{}; });
        result = missing.listen();
        REQUIRE_FALSE(result);
        CHECK(result.error().message.find("/nonexistent/cert.pem") != std::string::npos);
    }
}

TEST_CASE("HttpServer::run", "[server]") {
    Seen seen;
    TestServer server(test_options(), echo_handler(seen));
    server.start();
    Client client(server.port());
    REQUIRE(client.connected());

    SECTION("a POST with Content-Length reaches the handler") {
        REQUIRE(client.send(post("/bulk?x=1", "[{\"kind\":\"index\"}]")));
        auto response = client.read_response();
        REQUIRE(response);
        CHECK(response->status == 200);
        CHECK(response->header("x-echo-method") == "POST");
        CHECK(response->header("x-echo-target") == "/bulk?x=1");
        CHECK(response->body == "[{\"kind\":\"index\"}]");
        CHECK(response->header("content-length") == std::to_string(response->body.size()));
        CHECK_FALSE(response->header("date").empty());
    }
    SECTION("a chunked POST arrives whole") {
        REQUIRE(client.send(chunked_post("/bulk", {"[{\"kind\":", "\"custom\"", "}]"})));
        auto response = client.read_response();
        REQUIRE(response);
        CHECK(response->status == 200);
        CHECK(response->body == "[{\"kind\":\"custom\"}]");
        CHECK(response->header("x-echo-body-length") == "19");
    }
    SECTION("header names in odd case reach the handler as received") {
        REQUIRE(client.send(post("/bulk", "[]", "x-lAUNCHdarkly-TAGS: app=1\r\n")));
        auto response = client.read_response();
        REQUIRE(response);
        CHECK(response->header("x-echo-tags") == "app=1");
        const auto requests = seen.all();
        REQUIRE(requests.size() == 1);
        const auto& headers = requests[0].headers;
        CHECK(std::find(headers.begin(), headers.end(),
                        std::pair<std::string, std::string>{"x-lAUNCHdarkly-TAGS", "app=1"}) !=
              headers.end());
    }
    SECTION("keep-alive: two requests on one connection, the second pipelined") {
        REQUIRE(client.send(post("/one", "1")));
        auto first = client.read_response();
        REQUIRE(first);
        CHECK(first->header("x-echo-target") == "/one");
        REQUIRE(client.send(get("/two") + get("/three")));
        auto second = client.read_response();
        auto third = client.read_response();
        REQUIRE(second);
        REQUIRE(third);
        CHECK(second->header("x-echo-target") == "/two");
        CHECK(third->header("x-echo-target") == "/three");
        CHECK(seen.all().size() == 3);
    }
    SECTION("Connection: close is honoured") {
        REQUIRE(client.send(get("/", "Connection: close\r\n")));
        auto response = client.read_response();
        REQUIRE(response);
        CHECK(response->status == 200);
        CHECK(client.closed_within(2s));
    }
    SECTION("the loopback flag is set for 127.0.0.1") {
        REQUIRE(client.send(get("/status")));
        auto response = client.read_response();
        REQUIRE(response);
        CHECK(response->header("x-echo-loopback") == "yes");
        REQUIRE(seen.all().size() == 1);
        CHECK(seen.all()[0].from_loopback);
    }
    SECTION("Expect: 100-continue gets the interim answer, then the body is read") {
        REQUIRE(client.send("POST /bulk HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
                            "Expect: 100-continue\r\n\r\n"));
        // Wait for the 100 before sending the body, as a client that waits for it does.
        REQUIRE(client.wait_for("HTTP/1.1 100 Continue\r\n\r\n"));
        REQUIRE(client.send("[]"));
        auto response = client.read_response();
        REQUIRE(response);
        CHECK(response->status == 200);
        CHECK(response->body == "[]");
    }
    SECTION("a malformed request gets 400 with a JSON message, then the connection closes") {
        REQUIRE(client.send("this is not HTTP\r\n\r\n"));
        auto response = client.read_response();
        REQUIRE(response);
        CHECK(response->status == 400);
        CHECK(response->body.rfind("{\"message\":\"", 0) == 0);
        CHECK(client.closed_within(2s));
        CHECK(seen.all().empty());
    }
}

TEST_CASE("HttpServer::run limits the body", "[server]") {
    auto options = test_options();
    options.max_body_bytes = 100;
    Seen seen;
    TestServer server(options, echo_handler(seen));
    server.start();
    Client client(server.port());
    REQUIRE(client.connected());

    SECTION("exactly max_body_bytes is accepted") {
        REQUIRE(client.send(post("/bulk", std::string(100, 'a'))));
        auto response = client.read_response();
        REQUIRE(response);
        CHECK(response->status == 200);
    }
    SECTION("one byte over is 413, and the connection closes") {
        REQUIRE(client.send(post("/bulk", std::string(101, 'a'))));
        auto response = client.read_response();
        REQUIRE(response);
        CHECK(response->status == 413);
        CHECK(response->body == "{\"message\":\"request body exceeds 100 bytes\"}");
        CHECK(response->header("content-type") == "application/json");
        CHECK(client.closed_within(3s));
        CHECK(seen.all().empty());
    }
    SECTION("a chunked body growing past the limit is 413") {
        REQUIRE(client.send(chunked_post("/bulk", {std::string(60, 'a'), std::string(60, 'b')})));
        auto response = client.read_response();
        REQUIRE(response);
        CHECK(response->status == 413);
        CHECK(seen.all().empty());
    }
}

TEST_CASE("HttpServer::run header timeout", "[server]") {
    auto options = test_options();
    options.header_timeout = 300ms;
    // One thread: the stalled client must not hold it.
    options.threads = 1;
    Seen seen;
    TestServer server(options, echo_handler(seen));
    server.start();

    // Client A trickles its header a byte every 50 ms and notes when the server hangs up.
    std::atomic<bool> a_closed{false};
    std::atomic<long> a_closed_after_ms{-1};
    std::thread trickler([&] {
        Client slow(server.port());
        if (!slow.connected()) {
            return;
        }
        const auto start = Clock::now();
        if (!slow.send("POST /bulk HTTP/1.1\r\nHost: t\r\nX-Slow: ")) {
            return;
        }
        while (since(start) < 3s) {
            if (slow.closed_within(50ms)) {
                a_closed_after_ms = since(start).count();
                a_closed = true;
                return;
            }
            if (!slow.send("a")) {
                a_closed_after_ms = since(start).count();
                a_closed = true;
                return;
            }
        }
    });
    struct Join {
        std::thread& thread;
        ~Join() { thread.join(); }
    } join{trickler};

    std::this_thread::sleep_for(100ms); // A is now mid-header
    Client fast(server.port());
    REQUIRE(fast.connected());
    const auto start = Clock::now();
    REQUIRE(fast.send(post("/bulk", "[]")));
    auto response = fast.read_response();
    const auto elapsed = since(start);
    REQUIRE(response);
    CHECK(response->status == 200);
    CHECK(elapsed < 200ms);

    REQUIRE(eventually([&] { return a_closed.load(); }, 3s));
    CHECK(a_closed_after_ms.load() >= 250);
    CHECK(a_closed_after_ms.load() < 1500);
    CHECK(seen.all().size() == 1); // A never reached the handler
}

TEST_CASE("HttpServer::run idle keep-alive timeout", "[server]") {
    auto options = test_options();
    options.idle_timeout = 300ms;
    Seen seen;
    TestServer server(options, echo_handler(seen));
    server.start();
    Client client(server.port());
    REQUIRE(client.connected());
    REQUIRE(client.send(get("/")));
    REQUIRE(client.read_response());
    const auto start = Clock::now();
    CHECK(client.closed_within(3s));
    CHECK(since(start) >= 250ms);
    CHECK(eventually([&] { return server.server().open_connections() == 0; }, 2s));
}

TEST_CASE("HttpServer::run connection cap", "[server]") {
    auto options = test_options();
    options.max_connections = 2;
    Seen seen;
    TestServer server(options, echo_handler(seen));
    server.start();
    Client first(server.port());
    Client second(server.port());
    REQUIRE(first.connected());
    REQUIRE(second.connected());
    REQUIRE(eventually([&] { return server.server().open_connections() == 2; }, 2s));

    Client third(server.port()); // the kernel completes the handshake; the server then closes
    REQUIRE(third.connected());
    CHECK(third.closed_within(2s));
    CHECK(server.server().open_connections() == 2);

    // The two admitted connections are served as usual.
    REQUIRE(first.send(get("/first")));
    auto response = first.read_response();
    REQUIRE(response);
    CHECK(response->status == 200);
}

TEST_CASE("HttpServer::every", "[server]") {
    Seen seen;
    TestServer server(test_options(), echo_handler(seen));
    std::atomic<int> calls{0};
    server.server().every(20ms, [&calls] { ++calls; });
    server.start();
    CHECK(eventually([&] { return calls.load() >= 3; }, 2s));
}

TEST_CASE("HttpServer::post", "[server]") {
    Seen seen;
    TestServer server(test_options(), echo_handler(seen));
    const auto test_thread = std::this_thread::get_id();
    std::atomic<int> calls{0};
    std::atomic<bool> ran_on_test_thread{false};
    const auto count = [&] {
        if (std::this_thread::get_id() == test_thread) {
            ran_on_test_thread = true;
        }
        ++calls;
    };
    // Before run(): runs once the loop starts.
    server.server().post(count);
    CHECK(calls.load() == 0);
    server.start();
    CHECK(eventually([&] { return calls.load() == 1; }, 2s));
    // From a thread of its own while the loop runs, as cli/serve.cpp's SignalWatcher does.
    std::thread([&] { server.server().post(count); }).join();
    CHECK(eventually([&] { return calls.load() == 2; }, 2s));
    CHECK_FALSE(ran_on_test_thread.load());
    // A posted function may end the server (serve's SIGTERM).
    server.server().post([&server] { server.server().shutdown(1s); });
    CHECK(server.wait_run_returned(2s));
}

TEST_CASE("HttpServer::run rethrows what a handler throws", "[server]") {
    // A handler must not throw (a programming error). If one does, the server stops at once and
    // run() rethrows the exception on its caller's thread, for cli/main.cpp to report.
    auto throw_on = [](std::string target) -> RequestHandler {
        return [target](HttpRequest&& request) {
            if (request.target == target) {
                throw std::logic_error("broken invariant on " + target);
            }
            return HttpResponse{};
        };
    };
    std::optional<HttpServer> server;
    SECTION("a request handler") {
        server.emplace(test_options(), throw_on("/throw"));
    }
    SECTION("a deferred answer's start") {
        server.emplace(test_options(), [](HttpRequest&&) {
            return HttpResponse::later(
                [](HttpResponder) { throw std::logic_error("broken invariant on /throw"); });
        });
    }
    SECTION("a periodic task") {
        server.emplace(test_options(), throw_on("/never"));
        server->every(10ms, [] { throw std::logic_error("broken invariant on /throw"); });
    }
    SECTION("a posted function") {
        server.emplace(test_options(), throw_on("/never"));
        server->post([] { throw std::logic_error("broken invariant on /throw"); });
    }
    auto port = server->listen();
    REQUIRE(port);
    std::exception_ptr thrown;
    std::mutex mutex;
    std::condition_variable changed;
    bool returned = false;
    std::thread runner([&] {
        try {
            server->run();
        } catch (...) {
            thrown = std::current_exception();
        }
        std::lock_guard lock(mutex);
        returned = true;
        changed.notify_all();
    });
    Client client(*port);
    REQUIRE(client.connected());
    REQUIRE(client.send(get("/throw")));
    bool ended = false;
    {
        std::unique_lock lock(mutex);
        ended = changed.wait_for(lock, 2s, [&] { return returned; });
    }
    if (!ended) {
        server->stop(); // the check below fails; do not hang
    }
    runner.join();
    CHECK(ended);
    REQUIRE(thrown);
    CHECK_THROWS_WITH(std::rethrow_exception(thrown), "broken invariant on /throw");
    server.reset();
    CHECK(client.closed_within(1s)); // destroying the server closes what it held
}

TEST_CASE("HttpServer::shutdown", "[server]") {
    std::atomic<bool> in_handler{false};
    Seen seen;
    auto echo = echo_handler(seen);
    TestServer server(test_options(), [&](HttpRequest&& request) {
        if (request.target == "/slow") {
            in_handler = true;
            std::this_thread::sleep_for(300ms); // a handler busy with the request in hand
        }
        return echo(std::move(request));
    });
    server.start();

    SECTION("idle keep-alive connections close at once and run() returns early") {
        Client idle(server.port());
        REQUIRE(idle.connected());
        REQUIRE(idle.send(get("/")));
        REQUIRE(idle.read_response());
        const auto start = Clock::now();
        server.server().shutdown(5s);
        CHECK(idle.closed_within(1s));
        CHECK(server.wait_run_returned(1s));
        CHECK(since(start) < 1s);
    }
    SECTION("the request in hand is answered, with Connection: close") {
        Client busy(server.port());
        REQUIRE(busy.connected());
        REQUIRE(busy.send(post("/slow", "[]")));
        REQUIRE(eventually([&] { return in_handler.load(); }, 2s));
        server.server().shutdown(3s);
        auto response = busy.read_response();
        REQUIRE(response);
        CHECK(response->status == 200);
        CHECK(to_lower(response->header("connection")) == "close");
        CHECK(busy.closed_within(1s));
        CHECK(server.wait_run_returned(1s));
    }
    SECTION("after the grace, a client still sending is cut off and run() returns") {
        Client stalled(server.port());
        REQUIRE(stalled.connected());
        REQUIRE(stalled.send("POST /bulk HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n12"));
        REQUIRE(eventually([&] { return server.server().open_connections() == 1; }, 2s));
        std::this_thread::sleep_for(50ms); // let the server read the partial body
        const auto start = Clock::now();
        server.server().shutdown(300ms);
        CHECK(server.wait_run_returned(2s));
        const auto elapsed = since(start);
        CHECK(elapsed >= 250ms);
        CHECK(elapsed < 1s);
        CHECK(stalled.closed_within(1s));
        CHECK(seen.all().empty());
    }
    SECTION("stop_accepting closes the listening socket") {
        server.server().stop_accepting();
        REQUIRE(eventually(
            [&] {
                Client late(server.port());
                return !late.connected();
            },
            2s));
    }
}

TEST_CASE("HttpServer::listen with TLS", "[server]") {
    test::ScratchDir dir;
    const auto cert = dir / "cert.pem";
    const auto key = dir / "key.pem";
    const std::string make_cert = "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost "
                                  "-days 1 -keyout '" +
                                  key.string() + "' -out '" + cert.string() + "' >/dev/null 2>&1";
    REQUIRE(std::system(make_cert.c_str()) == 0);

    auto options = test_options();
    options.tls_cert_file = cert.string();
    options.tls_key_file = key.string();
    Seen seen;
    TestServer server(options, echo_handler(seen));
    server.start();

    const auto body_file = dir / "body.txt";
    const auto status_file = dir / "status.txt";
    const std::string curl =
        "curl -sk --max-time 5 -X POST --data-binary hello -o '" + body_file.string() +
        "' -w '%{http_code}' https://127.0.0.1:" + std::to_string(server.port()) + "/tls-test > '" +
        status_file.string() + "'";
    CHECK(std::system(curl.c_str()) == 0);
    CHECK(test::read_file(status_file) == "200");
    CHECK(test::read_file(body_file) == "hello");
    const auto requests = seen.all();
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].target == "/tls-test");

    SECTION("a plain HTTP client on the TLS port gets no answer") {
        Client plain(server.port());
        REQUIRE(plain.connected());
        REQUIRE(plain.send(get("/")));
        CHECK_FALSE(plain.read_response());
        CHECK(seen.all().size() == 1);
    }
}

namespace {

// A handler that answers "/later" with HttpResponse::later() and keeps the responders, for the
// test to answer from its own thread; everything else is echoed.
struct Deferring {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<HttpResponder> responders;
    std::atomic<int> echoed{0};
    Seen seen;

    RequestHandler handler() {
        return [this, echo = echo_handler(seen)](HttpRequest&& request) {
            if (request.target == "/later") {
                return HttpResponse::later([this](HttpResponder respond) {
                    std::lock_guard lock(mutex);
                    responders.push_back(std::move(respond));
                    changed.notify_all();
                });
            }
            if (request.target == "/at-once") {
                return HttpResponse::later([](HttpResponder respond) {
                    respond(HttpResponse{204, {}, {}, {}});
                });
            }
            if (request.target == "/dropped") {
                return HttpResponse::later([](HttpResponder) {});
            }
            echoed.fetch_add(1);
            return echo(std::move(request));
        };
    }

    // The oldest responder not taken yet, once the handler has given it (bounded wait).
    std::optional<HttpResponder> take(std::chrono::milliseconds within = 5s) {
        std::unique_lock lock(mutex);
        if (!changed.wait_for(lock, within, [this] { return !responders.empty(); })) {
            return std::nullopt;
        }
        HttpResponder respond = std::move(responders.front());
        responders.erase(responders.begin());
        return respond;
    }
};

} // namespace

TEST_CASE("HttpServer::run deferred answers", "[server]") {
    Deferring deferring;
    TestServer server(test_options(), deferring.handler());
    server.start();
    Client client(server.port());
    REQUIRE(client.connected());

    SECTION("answered from another thread; the next request waits for it, then is served") {
        // Pipelined: the echo request must not be read before the deferred answer is written.
        REQUIRE(client.send(post("/later", "[1]") + get("/next")));
        auto respond = deferring.take();
        REQUIRE(respond);
        std::this_thread::sleep_for(100ms);
        CHECK(deferring.echoed.load() == 0);
        std::thread answerer([respond = std::move(*respond)] {
            respond(HttpResponse{503, {{"Retry-After", "1"}}, R"({"message":"later"})", {}});
        });
        answerer.join();
        auto first = client.read_response();
        REQUIRE(first);
        CHECK(first->status == 503);
        CHECK(first->header("retry-after") == "1");
        CHECK(first->body == R"({"message":"later"})");
        CHECK(to_lower(first->header("connection")) != "close");
        auto second = client.read_response();
        REQUIRE(second);
        CHECK(second->status == 200);
        CHECK(second->header("x-echo-target") == "/next");
        // The connection goes on serving deferred requests.
        REQUIRE(client.send(post("/later", "[2]")));
        auto again = deferring.take();
        REQUIRE(again);
        (*again)(HttpResponse{202, {}, {}, {}});
        auto third = client.read_response();
        REQUIRE(third);
        CHECK(third->status == 202);
        CHECK(third->header("content-length") == "0");
    }
    SECTION("a responder called at once, inside the handler's continuation") {
        REQUIRE(client.send(post("/at-once", "[]")));
        auto response = client.read_response();
        REQUIRE(response);
        CHECK(response->status == 204);
        REQUIRE(client.send(get("/next")));
        auto next = client.read_response();
        REQUIRE(next);
        CHECK(next->status == 200);
    }
    SECTION("a responder called twice: the second answer is dropped") {
        REQUIRE(client.send(post("/later", "[]")));
        auto respond = deferring.take();
        REQUIRE(respond);
        (*respond)(HttpResponse{202, {}, {}, {}});
        (*respond)(HttpResponse{500, {}, {}, {}});
        auto response = client.read_response();
        REQUIRE(response);
        CHECK(response->status == 202);
        REQUIRE(client.send(get("/next")));
        auto next = client.read_response();
        REQUIRE(next);
        CHECK(next->status == 200);
    }
    SECTION("a responder dropped unanswered closes the connection") {
        REQUIRE(client.send(post("/dropped", "[]")));
        CHECK(client.closed_within(2s));
        CHECK(eventually([&] { return server.server().open_connections() == 0; }, 2s));
    }
    SECTION("shutdown waits for the deferred answer, which closes the connection") {
        REQUIRE(client.send(post("/later", "[]")));
        auto respond = deferring.take();
        REQUIRE(respond);
        server.server().shutdown(5s);
        CHECK_FALSE(server.wait_run_returned(200ms));
        (*respond)(HttpResponse{202, {}, {}, {}});
        respond.reset();
        auto response = client.read_response();
        REQUIRE(response);
        CHECK(response->status == 202);
        CHECK(to_lower(response->header("connection")) == "close");
        CHECK(client.closed_within(1s));
        CHECK(server.wait_run_returned(2s));
    }
    SECTION("after shutdown's grace an unanswered connection is closed and run() returns") {
        REQUIRE(client.send(post("/later", "[]")));
        auto respond = deferring.take();
        REQUIRE(respond);
        const auto start = Clock::now();
        server.server().shutdown(200ms);
        CHECK(server.wait_run_returned(2s));
        CHECK(since(start) < 1500ms);
        CHECK(client.closed_within(1s));
        // Answering after run() returned is harmless (the answer is never written).
        (*respond)(HttpResponse{202, {}, {}, {}});
        respond.reset();
    }
}
