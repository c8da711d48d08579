// README "Running several instances": two `serve --durable` instances, each with its own spool,
// behind a real load balancer (Debian's nginx). SDK-like clients post through nginx; one instance
// is SIGKILLed under load and restarted on its spool; while the upstream is down the instances
// keep acknowledging into their spools; `evrelay flush` of each spool delivers the rest. Every
// event that got a 2xx reaches the upstream, and the event of a post sent once arrives under one
// payload ID only (a batch a killed instance re-sends keeps its ID). A post an SDK had to send
// twice may be stored by both instances: the de-duplication of SDK retries is per instance, so
// its events may arrive under two batch IDs — allowed here, and counted.
#include "serve_client.hpp"
#include "spool_support.hpp"
#include "tests/support/nginx_balancer.hpp"

#include "core/util/uuid.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <atomic>
#include <csignal>
#include <fstream>
#include <mutex>
#include <netinet/in.h>
#include <random>
#include <regex>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using namespace evrelay::test;

namespace {

const std::string k_key = "sdk-scale-out-test-0001";
constexpr std::size_t k_events_per_post = 5;

// One post as an SDK makes it: its own payload ID, kept on the one retry after a failure (no
// answer, or 5xx: nginx answers 502 for a post its instance died with).
struct SdkPost {
    std::vector<std::string> events;
    int attempts = 0;
    bool acknowledged = false;
};

class SdkLikeClients {
  public:
    SdkLikeClients(std::uint16_t port, int threads) {
        for (int t = 0; t < threads; ++t) {
            m_threads.emplace_back([this, port, t] { run(port, t); });
        }
    }
    ~SdkLikeClients() { stop(); }
    SdkLikeClients(const SdkLikeClients&) = delete;
    SdkLikeClients& operator=(const SdkLikeClients&) = delete;

    void stop() {
        m_stop.store(true);
        for (auto& thread : m_threads) {
            if (thread.joinable()) {
                thread.join();
            }
        }
    }
    std::size_t acknowledged_events() const { return m_acknowledged_events.load(); }
    std::vector<SdkPost> posts() {
        std::lock_guard lock(m_mutex);
        return m_posts;
    }

  private:
    void run(std::uint16_t port, int thread) {
        for (std::size_t round = 0; !m_stop.load() && round < 5000; ++round) {
            SdkPost post;
            post.events =
                make_events(k_events_per_post, (static_cast<std::size_t>(thread + 1) << 20) +
                                                   round * k_events_per_post);
            const std::string payload_id = evrelay::util::make_uuid_v4();
            for (; post.attempts < 2 && !post.acknowledged; ++post.attempts) {
                if (post.attempts > 0) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(100));
                }
                const auto response = http_request(port, "POST", "/bulk",
                                                   {{"Authorization", k_key},
                                                    {"X-LaunchDarkly-Event-Schema", "4"},
                                                    {"X-LaunchDarkly-Payload-ID", payload_id}},
                                                   as_array(post.events));
                post.acknowledged = response.status >= 200 && response.status < 300;
            }
            if (post.acknowledged) {
                m_acknowledged_events.fetch_add(post.events.size());
            }
            std::lock_guard lock(m_mutex);
            m_posts.push_back(std::move(post));
        }
    }

    std::atomic<bool> m_stop{false};
    std::atomic<std::size_t> m_acknowledged_events{0};
    std::mutex m_mutex;
    std::vector<SdkPost> m_posts;
    std::vector<std::thread> m_threads;
};

// A free port below the kernel's ephemeral range (ip_local_port_range), for an instance that is
// restarted on its port: while it is down, the thousands of client connections of the test take
// local ports from the ephemeral range and could take its port, never one below it.
std::uint16_t port_for_restarts() {
    std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
    int low = 0;
    range >> low;
    std::mt19937 random(std::random_device{}());
    for (int attempt = 0; low > 11024 && attempt < 200; ++attempt) {
        const auto port = static_cast<std::uint16_t>(
            std::uniform_int_distribution<int>(low - 10000, low - 1)(random));
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        address.sin_port = htons(port);
        const bool free =
            ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
        ::close(fd);
        if (free) {
            return port;
        }
    }
    return free_port(); // an unusual range: an ephemeral port, and a small risk
}

// An instance on a given port, so that a restarted one is where the balancer expects it.
std::unique_ptr<ChildProcess> start_instance(const std::string& spool, std::uint16_t port,
                                             const std::string& upstream_url) {
    return start_evrelay({"serve", "--bind", "127.0.0.1", "--port", std::to_string(port),
                          "--sdk-key", k_key, "--events-uri", upstream_url, "--spool", spool,
                          "--durable", "--flush-interval", "200ms", "--retry-delay", "200ms",
                          "--shutdown-timeout", "3s"});
}

// The events an instance has received so far (its /status), or 0 when it does not answer.
std::size_t events_received(std::uint16_t port) {
    const auto response = http_request(port, "GET", "/status");
    static const std::regex k_received(R"re("eventsReceived":(\d+))re");
    std::smatch match;
    if (response.status != 200 || !std::regex_search(response.body, match, k_received)) {
        return 0;
    }
    return std::stoul(match[1].str());
}

// Events delivered by one `flush` run, from its summary line "flush: N payloads (M events)
// delivered, …".
std::size_t flushed_events(const std::string& err) {
    static const std::regex k_summary(R"re(flush: \d+ payloads \((\d+) events\) delivered)re");
    std::smatch match;
    return std::regex_search(err, match, k_summary) ? std::stoul(match[1].str()) : 0;
}

} // namespace

TEST_CASE("two durable serves behind nginx: one SIGKILLed under load and restarted, both spools "
          "flushed: every acknowledged event upstream",
          "[serve][spool][durable][scale-out]") {
    ScratchDir scratch;
    const std::string spool_a = (scratch / "spool-a").string();
    const std::string spool_b = (scratch / "spool-b").string();
    RecordingUpstream upstream;

    const std::uint16_t port_a = port_for_restarts();
    auto instance_a = start_instance(spool_a, port_a, upstream.url());
    auto instance_b = start_instance(spool_b, 0, upstream.url());
    ServeGuard guard_b(*instance_b);
    REQUIRE(wait_for_listening(*instance_a) == port_a);
    const std::uint16_t port_b = wait_for_listening(*instance_b);
    REQUIRE(port_b != 0);
    const NginxBalancer balancer({port_a, port_b});

    SdkLikeClients clients(balancer.port(), 4);
    const auto timeout = std::chrono::seconds(30);
    // 1. Both instances take posts (round robin).
    REQUIRE(wait_until(
        [&] {
            return clients.acknowledged_events() >= 1500 && events_received(port_a) > 0 &&
                   events_received(port_b) > 0;
        },
        timeout));
    // 2. A dies with posts in flight; nginx sends the next ones to B.
    instance_a->kill();
    INFO("instance A was killed; its output: " << instance_a->stderr_text());
    const std::size_t at_kill = clients.acknowledged_events();
    REQUIRE(wait_until([&] { return clients.acknowledged_events() >= at_kill + 1500; }, timeout));
    // 3. A restarts on its spool and port (it drains what the dead one left). The upstream goes
    //    down: both instances keep acknowledging durably, into their spools.
    upstream.set_default_status(503);
    instance_a = start_instance(spool_a, port_a, upstream.url());
    ServeGuard guard_a(*instance_a);
    REQUIRE(wait_for_listening(*instance_a) == port_a);
    const std::size_t at_restart = clients.acknowledged_events();
    REQUIRE(wait_until(
        [&] {
            return clients.acknowledged_events() >= at_restart + 1500 &&
                   events_received(port_a) > 0;
        },
        timeout));
    clients.stop();
    // 4. Both stop; what the upstream did not take stays in their spools.
    CHECK(guard_a.stop() == 0);
    CHECK(guard_b.stop() == 0);
    INFO("instance A (restarted): " << instance_a->stderr_text());
    INFO("instance B: " << instance_b->stderr_text());
    // 5. The upstream is back; a flush of each spool delivers the rest.
    upstream.set_default_status(202);
    std::size_t flushed = 0;
    for (const std::string& spool : {spool_a, spool_b}) {
        const auto result = run_evrelay(
            {"flush", spool, "--sdk-key", k_key, "--events-uri", upstream.url(), "--no-progress"});
        INFO("flush " << spool << ": " << result.err);
        CHECK(result.status == 0);
        flushed += flushed_events(result.err);
        CHECK(files_with_suffix(spool, ".seg").empty());
        CHECK(files_with_suffix(spool, ".open").empty());
    }
    CHECK(flushed > 0); // the outage left events for the flushes

    const auto posts = clients.posts();
    const std::multiset<std::string> delivered = delivered_events(upstream.requests());
    std::size_t acknowledged = 0;
    std::size_t missing = 0;
    std::size_t doubled_once_sent = 0;
    std::size_t doubled_retried = 0;
    std::size_t retried_posts = 0;
    for (const SdkPost& post : posts) {
        retried_posts += post.attempts > 1 ? 1 : 0;
        if (!post.acknowledged) {
            continue;
        }
        for (const std::string& event : post.events) {
            ++acknowledged;
            const std::size_t times = delivered.count(event);
            missing += times == 0 ? 1 : 0;
            if (times > 1) {
                (post.attempts > 1 ? doubled_retried : doubled_once_sent) += 1;
            }
        }
    }
    INFO("acknowledged " << acknowledged << " events in " << posts.size() << " posts ("
                         << retried_posts << " sent twice); events of retried posts delivered "
                         << "under two payload IDs: " << doubled_retried
                         << "; payload IDs delivered twice: "
                         << delivered_twice(upstream.requests()).size());
    INFO("nginx: " << balancer.error_log());
    CHECK(acknowledged >= 4500);
    CHECK(missing == 0);
    CHECK(doubled_once_sent == 0);
}
