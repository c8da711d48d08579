// A client that trickles its request header one byte per 100 ms does not hold up other clients
// (even on one server thread), and --header-timeout disconnects it.
#include "serve_client.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

using namespace evrelay::test;

namespace {

using Clock = std::chrono::steady_clock;

// What one trickling client saw; filled by its thread, checked on the test thread.
struct TrickleResult {
    bool connected = false;
    bool disconnected = false;
    std::size_t bytes_sent = 0;
    std::chrono::milliseconds elapsed{0};
};

// Sends `header` one byte per 100 ms until the server closes the connection or `limit` passes.
void trickle(std::uint16_t port, const std::string& header, std::chrono::milliseconds limit,
             TrickleResult& result) {
    const auto start = Clock::now();
    RawConnection connection(port);
    result.connected = connection.connected();
    if (!result.connected) {
        return;
    }
    for (char byte : header) {
        if (Clock::now() - start > limit) {
            break;
        }
        if (!connection.send(std::string_view(&byte, 1))) {
            result.disconnected = true;
            break;
        }
        ++result.bytes_sent;
        // The pause between bytes doubles as the watch for the server closing.
        if (connection.closed_within(std::chrono::milliseconds(100))) {
            result.disconnected = true;
            break;
        }
    }
    result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

} // namespace

TEST_CASE("serve answers other clients while one trickles its header, and times it out",
          "[serve]") {
    RecordingUpstream upstream;
    ServeProcess serve({"--sdk-key", "sdk-slow-test-0001", "--events-uri", upstream.url(),
                        "--flush-interval", "1h", "--header-timeout", "1s", "--threads", "1"});
    ServeGuard guard(serve);
    const auto port = serve.port();
    // 80 bytes at 10 bytes/s: 8 s, far longer than the header timeout.
    std::string header =
        "POST /bulk HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: sdk-slow-test-0001\r\n";
    header.resize(80, 'x');

    TrickleResult tricklers[3];
    std::vector<std::thread> threads;
    for (auto& result : tricklers) {
        threads.emplace_back(trickle, port, header, std::chrono::milliseconds(6000),
                             std::ref(result));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));

    const auto events = make_events(3);
    std::vector<std::chrono::milliseconds> answer_times;
    for (const auto& event : events) {
        const auto start = Clock::now();
        const auto response = http_request(
            port, "POST", "/bulk",
            {{"Authorization", "sdk-slow-test-0001"}, {"X-LaunchDarkly-Event-Schema", "4"}},
            as_array({event}));
        answer_times.push_back(
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start));
        CHECK(response.status == 202);
    }
    for (auto& thread : threads) {
        thread.join();
    }

    for (const auto elapsed : answer_times) {
        CHECK(elapsed < std::chrono::milliseconds(750));
    }
    for (const auto& result : tricklers) {
        CHECK(result.connected);
        CHECK(result.disconnected);
        // Disconnected about when the header timeout (1 s from connecting) ran out.
        CHECK(result.elapsed >= std::chrono::milliseconds(900));
        CHECK(result.elapsed < std::chrono::milliseconds(3000));
        CHECK(result.bytes_sent < header.size());
    }

    // The posts answered while the tricklers hung on arrive upstream.
    CHECK(http_request(port, "POST", "/admin/flush").status == 202);
    REQUIRE(upstream.wait_for_requests(1, std::chrono::seconds(10)));
    CHECK(all_events(upstream.requests()) == events);

    const auto status = guard.stop();
    INFO(serve.process().stderr_text());
    CHECK(status == 0);
}
