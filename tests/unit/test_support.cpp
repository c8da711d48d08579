// Tests of the test support itself: the other tests trust it to record and script faithfully and
// to never hang, so those promises are checked here against a hand-written client.
#include "tests/support/child_process.hpp"
#include "tests/support/recording_upstream.hpp"
#include "tests/support/scratch_dir.hpp"

#include <catch2/catch.hpp>
#include <zlib.h>

#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <sys/time.h>
#include <thread>
#include <unistd.h>

using namespace evrelay::test;
using namespace std::chrono_literals;

namespace {

// A minimal HTTP/1.1 client over a raw socket, so these tests do not use Beast to check Beast.
class RawClient {
  public:
    explicit RawClient(std::uint16_t port) {
        m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(m_fd >= 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(m_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    }
    ~RawClient() { ::close(m_fd); }
    RawClient(const RawClient&) = delete;
    RawClient& operator=(const RawClient&) = delete;

    void send(const std::string& data) {
        std::size_t sent = 0;
        while (sent < data.size()) {
            ssize_t n = ::send(m_fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
            REQUIRE(n > 0);
            sent += static_cast<std::size_t>(n);
        }
    }

    // The head of the next response (status line and headers), or nullopt when none arrives
    // within `timeout` or the server closes the connection first.
    std::optional<std::string> read_head(std::chrono::milliseconds timeout = 5s) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            auto end = m_buffer.find("\r\n\r\n");
            if (end != std::string::npos) {
                std::string head = m_buffer.substr(0, end + 4);
                m_buffer.erase(0, end + 4);
                return head; // the upstream always answers Content-Length: 0
            }
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left <= 0ms) {
                return std::nullopt;
            }
            pollfd pfd{m_fd, POLLIN, 0};
            if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) {
                continue;
            }
            char buf[4096];
            ssize_t n = ::recv(m_fd, buf, sizeof buf, 0);
            if (n <= 0) {
                return std::nullopt;
            }
            m_buffer.append(buf, static_cast<std::size_t>(n));
        }
    }

    // The status code of the next response, or 0 when none arrives.
    int read_status(std::chrono::milliseconds timeout = 5s) {
        auto head = read_head(timeout);
        if (!head || head->rfind("HTTP/1.1 ", 0) != 0) {
            return 0;
        }
        return std::stoi(head->substr(9, 3));
    }

    // True when the server closed the connection (EOF) within `timeout`.
    bool closed_within(std::chrono::milliseconds timeout) {
        pollfd pfd{m_fd, POLLIN, 0};
        if (::poll(&pfd, 1, static_cast<int>(timeout.count())) <= 0) {
            return false;
        }
        char c;
        return ::recv(m_fd, &c, 1, 0) <= 0;
    }

  private:
    int m_fd = -1;
    std::string m_buffer;
};

std::string post(const std::string& target, const std::string& body,
                 const std::string& extra_headers = "") {
    return "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
           extra_headers + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

int post_once(const RecordingUpstream& upstream, const std::string& target,
              const std::string& body = "[]") {
    RawClient client(upstream.port());
    client.send(post(target, body));
    return client.read_status();
}

// Like RawClient, without Catch assertions (for use off the test thread). Returns the status,
// or 0 when there is no answer within 5 s.
int post_unchecked(std::uint16_t port, const std::string& request) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return 0;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval timeout{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    std::string response;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(request.size())) {
        char buf[1024];
        ssize_t n;
        while (response.find("\r\n\r\n") == std::string::npos &&
               (n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
            response.append(buf, static_cast<std::size_t>(n));
        }
    }
    ::close(fd);
    if (response.rfind("HTTP/1.1 ", 0) != 0 || response.size() < 12) {
        return 0;
    }
    return std::stoi(response.substr(9, 3));
}

std::string gzip(const std::string& data) {
    z_stream zs{};
    REQUIRE(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                         Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(deflateBound(&zs, data.size()) + 32, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    int rc = deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    REQUIRE(rc == Z_STREAM_END);
    return out;
}

bool process_exists(int pid) {
    return ::kill(pid, 0) == 0 || errno != ESRCH;
}

} // namespace

TEST_CASE("RecordingUpstream::requests records method, target, headers and body", "[support]") {
    RecordingUpstream upstream;
    CHECK(upstream.port() != 0);
    CHECK(upstream.url() == "http://127.0.0.1:" + std::to_string(upstream.port()));

    RawClient client(upstream.port());
    client.send(
        post("/bulk?x=1", R"([{"kind":"identify"}])", "X-LaunchDarkly-Event-Schema: 4\r\n"));
    auto head = client.read_head();
    REQUIRE(head);
    CHECK(head->rfind("HTTP/1.1 202", 0) == 0);
    CHECK(head->find("Content-Length: 0\r\n") != std::string::npos);
    CHECK(head->find("Date: ") != std::string::npos);

    REQUIRE(upstream.wait_for_requests(1, 2s));
    auto requests = upstream.requests();
    REQUIRE(requests.size() == 1);
    const auto& request = requests[0];
    CHECK(request.method == "POST");
    CHECK(request.target == "/bulk?x=1");
    CHECK(request.header("x-launchdarkly-event-schema") == "4");
    CHECK(request.header("content-type") == "application/json");
    CHECK(request.header("X-LaunchDarkly-Event-Schema") == ""); // names are lower-cased
    CHECK(request.header("absent") == "");
    CHECK(request.raw_body == R"([{"kind":"identify"}])");
    CHECK(request.body == request.raw_body);
    CHECK(request.status == 202);
    CHECK(request.received <= std::chrono::steady_clock::now());
}

TEST_CASE("RecordingUpstream::requests decodes chunked bodies", "[support]") {
    RecordingUpstream upstream;
    RawClient client(upstream.port());
    client.send("POST /chunked HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    CHECK(client.read_status() == 202);
    REQUIRE(upstream.wait_for_requests(1, 2s));
    CHECK(upstream.requests()[0].body == "hello world");
    CHECK(upstream.requests()[0].raw_body == "hello world");
}

TEST_CASE("RecordingUpstream::requests gunzips gzip bodies", "[support]") {
    RecordingUpstream upstream;
    std::string json = R"([{"kind":"custom","key":"k"}])";
    std::string compressed = gzip(json);
    REQUIRE(compressed != json);

    RawClient client(upstream.port());
    client.send(post("/bulk", compressed, "Content-Encoding: gzip\r\n"));
    CHECK(client.read_status() == 202);
    REQUIRE(upstream.wait_for_requests(1, 2s));
    auto request = upstream.requests()[0];
    CHECK(request.header("content-encoding") == "gzip");
    CHECK(request.raw_body == compressed);
    CHECK(request.body == json);
    CHECK_FALSE(request.gzip_error);

    SECTION("two gzip members are one body") {
        client.send(post("/bulk", gzip("ab") + gzip("cd"), "Content-Encoding: gzip\r\n"));
        CHECK(client.read_status() == 202);
        REQUIRE(upstream.wait_for_requests(2, 2s));
        CHECK(upstream.requests()[1].body == "abcd");
    }
    SECTION("invalid gzip is answered 400") {
        client.send(post("/bulk", "not gzip at all", "Content-Encoding: gzip\r\n"));
        CHECK(client.read_status() == 400);
        REQUIRE(upstream.wait_for_requests(2, 2s));
        CHECK(upstream.requests()[1].gzip_error);
        CHECK(upstream.requests()[1].status == 400);
    }
}

TEST_CASE("RecordingUpstream::script answers scripted statuses, then the default", "[support]") {
    RecordingUpstream upstream;
    upstream.script({503, 500});
    CHECK(post_once(upstream, "/a") == 503);
    CHECK(post_once(upstream, "/b") == 500);
    CHECK(post_once(upstream, "/c") == 202);
    upstream.set_default_status(401);
    CHECK(post_once(upstream, "/d") == 401);

    auto requests = upstream.requests();
    REQUIRE(requests.size() == 4);
    CHECK(requests[0].status == 503);
    CHECK(requests[1].status == 500);
    CHECK(requests[2].status == 202);
    CHECK(requests[3].status == 401);
}

TEST_CASE("RecordingUpstream::script_path takes precedence over the global script", "[support]") {
    RecordingUpstream upstream;
    upstream.script({500});
    upstream.script_path("/diagnostic", {503, 400});
    CHECK(post_once(upstream, "/diagnostic") == 503);
    CHECK(post_once(upstream, "/bulk") == 500);
    CHECK(post_once(upstream, "/bulk") == 202);
    CHECK(post_once(upstream, "/diagnostic") == 400);
    CHECK(post_once(upstream, "/diagnostic") == 202);
}

TEST_CASE("RecordingUpstream serves several requests on one connection", "[support]") {
    RecordingUpstream upstream;
    upstream.script({503});
    RawClient client(upstream.port());
    client.send(post("/bulk", "first"));
    CHECK(client.read_status() == 503);
    client.send(post("/bulk", "second"));
    CHECK(client.read_status() == 202);

    SECTION("and pipelined ones") {
        client.send(post("/bulk", "third") + post("/bulk", "fourth"));
        CHECK(client.read_status() == 202);
        CHECK(client.read_status() == 202);
        REQUIRE(upstream.wait_for_requests(4, 2s));
        CHECK(upstream.requests()[3].body == "fourth");
    }
    SECTION("and closes after Connection: close") {
        client.send(post("/bulk", "last", "Connection: close\r\n"));
        CHECK(client.read_status() == 202);
        CHECK(client.closed_within(2s));
    }
    auto requests = upstream.requests();
    REQUIRE(requests.size() >= 3);
    CHECK(requests[0].body == "first");
    CHECK(requests[1].body == "second");
}

TEST_CASE("RecordingUpstream::set_stall holds answers until lifted", "[support]") {
    RecordingUpstream upstream;
    upstream.script({500});
    upstream.set_stall(true);
    RawClient client(upstream.port());
    client.send(post("/bulk", "stalled"));
    REQUIRE(upstream.wait_for_requests(1, 2s));
    CHECK(upstream.requests()[0].status == 0);
    CHECK(upstream.requests()[0].body == "stalled");
    CHECK(client.read_status(200ms) == 0); // nothing answered

    upstream.set_stall(false);
    // Released with the default status; the script is kept for the next request.
    CHECK(client.read_status() == 202);
    CHECK(upstream.requests()[0].status == 202);
    CHECK(post_once(upstream, "/bulk") == 500);
}

TEST_CASE("RecordingUpstream destructor does not wait for stalled or idle connections",
          "[support]") {
    auto start = std::chrono::steady_clock::now();
    std::optional<RawClient> stalled;
    std::optional<RawClient> idle;
    {
        RecordingUpstream upstream;
        idle.emplace(upstream.port());
        idle->send(post("/bulk", "x")); // keep-alive: its thread then blocks reading
        CHECK(idle->read_status() == 202);
        upstream.set_stall(true);
        stalled.emplace(upstream.port());
        stalled->send(post("/bulk", "y"));
        REQUIRE(upstream.wait_for_requests(2, 2s));
    }
    CHECK(std::chrono::steady_clock::now() - start < 3s);
    CHECK(stalled->closed_within(1s)); // closed unanswered
    CHECK(idle->closed_within(1s));
}

TEST_CASE("RecordingUpstream::set_max_body_bytes answers 413 to larger decoded bodies",
          "[support]") {
    RecordingUpstream upstream;
    upstream.set_max_body_bytes(10);
    upstream.script({500});
    CHECK(post_once(upstream, "/bulk", "0123456789") == 500);
    RawClient client(upstream.port());
    // Small on the wire, too large decoded.
    client.send(post("/bulk", gzip(std::string(1000, 'a')), "Content-Encoding: gzip\r\n"));
    CHECK(client.read_status() == 413);
    CHECK(post_once(upstream, "/bulk", "0123456789a") == 413);
    upstream.set_max_body_bytes(0);
    CHECK(post_once(upstream, "/bulk", std::string(100000, 'b')) == 202);
    REQUIRE(upstream.request_count() == 4);
    CHECK(upstream.requests()[1].status == 413);
}

TEST_CASE("RecordingUpstream::wait_for_requests is bounded; clear forgets", "[support]") {
    RecordingUpstream upstream;
    auto start = std::chrono::steady_clock::now();
    CHECK_FALSE(upstream.wait_for_requests(1, 100ms));
    CHECK(std::chrono::steady_clock::now() - start < 2s);

    // A request arriving while we wait wakes the waiter. Catch is not thread-safe, so the
    // posting thread only reports whether it got an answer.
    std::atomic<int> late_status{-1};
    std::thread poster([&upstream, &late_status] {
        std::this_thread::sleep_for(50ms);
        late_status = post_unchecked(upstream.port(), post("/late", "[]"));
    });
    CHECK(upstream.wait_for_requests(1, 5s));
    poster.join();
    CHECK(late_status == 202);
    CHECK(upstream.request_count() == 1);
    upstream.clear();
    CHECK(upstream.request_count() == 0);
    CHECK(upstream.requests().empty());
}

TEST_CASE("ChildProcess::wait returns exit status and output", "[support]") {
    auto result = run_process({.args = {"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}}, 10s);
    CHECK(result.status == 3);
    CHECK(result.out == "out\n");
    CHECK(result.err == "err\n");

    ChildProcess child({.args = {"/bin/sh", "-c", "exit 0"}});
    CHECK(child.pid() > 0);
    CHECK(child.wait(10s) == 0);
    CHECK_FALSE(child.running());
}

TEST_CASE("ChildProcess passes stdin", "[support]") {
    auto result = run_process({.args = {"/bin/cat"}, .stdin_data = "line 1\nline 2\n"}, 10s);
    CHECK(result.status == 0);
    CHECK(result.out == "line 1\nline 2\n");

    // More than a pipe buffer both ways: the writer and the reader must run concurrently.
    std::string big(3 * 1024 * 1024, 'x');
    auto big_result = run_process({.args = {"cat"}, .stdin_data = big}, 20s);
    CHECK(big_result.status == 0);
    CHECK(big_result.out.size() == big.size());

    // Without stdin_data, stdin is /dev/null (cat ends at once).
    CHECK(run_process({.args = {"/bin/cat"}}, 10s).status == 0);

    // A child that ignores its input must not kill us with SIGPIPE.
    auto ignoring = run_process({.args = {"/bin/true"}, .stdin_data = big}, 10s);
    CHECK(ignoring.status == 0);
}

TEST_CASE("ChildProcess sets the environment and working directory", "[support]") {
    ::setenv("EVRELAY_SUPPORT_TEST_UNSET", "present", 1);
    ScratchDir dir;
    auto result = run_process(
        {.args = {"/bin/sh", "-c",
                  "echo \"$EVRELAY_A|${EVRELAY_SUPPORT_TEST_UNSET-gone}|$PATH\"; pwd -P"},
         .env = {{"EVRELAY_A", "a value"}},
         .unset_env = {"EVRELAY_SUPPORT_TEST_UNSET"},
         .working_dir = dir.path().string()},
        10s);
    ::unsetenv("EVRELAY_SUPPORT_TEST_UNSET");
    CHECK(result.status == 0);
    std::string expected_dir = std::filesystem::canonical(dir.path()).string();
    CHECK(result.out ==
          "a value|gone|" + std::string(::getenv("PATH")) + "\n" + expected_dir + "\n");
}

TEST_CASE("ChildProcess reports signals and start failures", "[support]") {
    ChildProcess child({.args = {"/bin/sleep", "10"}});
    CHECK(child.running());
    CHECK_FALSE(child.wait(20ms));
    child.send_signal(SIGTERM);
    CHECK(child.wait(5s) == 128 + SIGTERM);

    CHECK_THROWS_WITH(ChildProcess({.args = {"/nonexistent/evrelay"}}),
                      Catch::Contains("/nonexistent/evrelay"));
    CHECK_THROWS_AS(ChildProcess({.args = {"/bin/true"}, .working_dir = "/nonexistent/dir"}),
                    std::runtime_error);
    CHECK_THROWS_AS(ChildProcess(ChildProcess::Options{}), std::invalid_argument);
}

TEST_CASE("run_process kills a child that outlives the timeout", "[support]") {
    auto start = std::chrono::steady_clock::now();
    // The shell's child (sleep) holds the output pipe too: it must be killed with the shell.
    auto result =
        run_process({.args = {"/bin/sh", "-c", "echo started; sleep 10; echo done"}}, 300ms);
    CHECK(std::chrono::steady_clock::now() - start < 3s);
    CHECK(result.status == -1);
    CHECK(result.out == "started\n");
    CHECK_THAT(result.err, Catch::Contains("timed out"));
}

TEST_CASE("ChildProcess destructor kills a running child", "[support]") {
    int pid = -1;
    auto start = std::chrono::steady_clock::now();
    {
        ChildProcess child({.args = {"/bin/sleep", "10"}});
        pid = child.pid();
        REQUIRE(process_exists(pid));
    }
    CHECK(std::chrono::steady_clock::now() - start < 3s);
    CHECK_FALSE(process_exists(pid));
}

TEST_CASE("ScratchDir::write creates files and the destructor removes them", "[support]") {
    std::filesystem::path root;
    {
        ScratchDir dir;
        root = dir.path();
        CHECK(std::filesystem::is_directory(root));
        CHECK(root.filename().string().rfind("evrelay-test-", 0) == 0);
        auto file = dir.write("nested/deeper/file.txt", std::string("a\0b", 3));
        CHECK(file == dir / "nested/deeper/file.txt");
        CHECK(read_file(file) == std::string("a\0b", 3));
        CHECK(read_file(dir.write("empty", "")).empty());
        ScratchDir other;
        CHECK(other.path() != root);
    }
    CHECK_FALSE(std::filesystem::exists(root));
}

TEST_CASE("read_file and fixture_path", "[support]") {
    CHECK_THROWS_WITH(read_file("/nonexistent/file.json"),
                      Catch::Contains("/nonexistent/file.json"));
    auto fixture = fixture_path("PROTOCOL.md");
    CHECK(std::filesystem::is_regular_file(fixture));
    CHECK_FALSE(read_file(fixture).empty());
}
