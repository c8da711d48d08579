#include "tests/support/recording_upstream.hpp"

#include "core/json/json_scan.hpp"
#include "core/model/counters.hpp"
#include "core/model/environment.hpp"
#include "core/model/memory_budget.hpp"
#include "core/model/payload.hpp"
#include "core/upstream/sender.hpp"
#include "core/upstream/sender_split.hpp"
#include "core/util/gzip.hpp"
#include "core/util/uuid.hpp"

#include <catch2/catch.hpp>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <netinet/in.h>
#include <set>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace evrelay;
using namespace std::chrono_literals;
using evrelay::test::RecordedRequest;
using evrelay::test::RecordingUpstream;

namespace {

constexpr auto k_wait = std::chrono::seconds(10);

const std::string k_sdk_key = "sdk-11111111-2222-3333-4444-555555551234";
const std::string k_mobile_key = "mob-aaaaaaaa-bbbb-cccc-dddd-eeeeeeee5678";
const std::string k_env_id = "5f0123456789abcdef012345";

Environment production() {
    Environment env;
    env.name = "production";
    env.sdk_key = k_sdk_key;
    env.mobile_key = k_mobile_key;
    env.env_id = k_env_id;
    return env;
}

struct Delivered {
    std::string id;
    std::string body;
    std::size_t event_count = 0;
    long status = 0;
};

struct Failed {
    Payload payload;
    Undeliverable reason;
    long status = 0;
};

// Records every outcome and lets a test wait (bounded) for a number of them.
class RecordingListener : public DeliveryListener {
  public:
    void on_delivered(const Payload& payload, long status) override {
        std::lock_guard lock(m_mutex);
        m_delivered.push_back({payload.id, payload.body, payload.event_count, status});
        m_changed.notify_all();
    }
    void on_undeliverable(Payload payload, Undeliverable reason, long last_status) override {
        std::lock_guard lock(m_mutex);
        m_failed.push_back({std::move(payload), reason, last_status});
        m_changed.notify_all();
    }
    bool wait_for_outcomes(std::size_t n, std::chrono::milliseconds timeout = k_wait) {
        std::unique_lock lock(m_mutex);
        return m_changed.wait_for(lock, timeout,
                                  [&] { return m_delivered.size() + m_failed.size() >= n; });
    }
    std::vector<Delivered> delivered() const {
        std::lock_guard lock(m_mutex);
        return m_delivered;
    }
    std::size_t failed_count() const {
        std::lock_guard lock(m_mutex);
        return m_failed.size();
    }
    // Copies what matters of the failures (Payload is move-only because of its lease).
    std::vector<std::tuple<std::string, Undeliverable, long, std::string>> failed() const {
        std::lock_guard lock(m_mutex);
        std::vector<std::tuple<std::string, Undeliverable, long, std::string>> out;
        for (const Failed& f : m_failed) {
            out.emplace_back(f.payload.id, f.reason, f.status, f.payload.body);
        }
        return out;
    }

  private:
    mutable std::mutex m_mutex;
    std::condition_variable m_changed;
    std::vector<Delivered> m_delivered;
    std::vector<Failed> m_failed;
};

// Captures log lines while alive and restores the previous default logger afterwards.
class LogCapture {
  public:
    LogCapture() : m_sink(std::make_shared<Sink>()), m_previous(spdlog::default_logger()) {
        auto logger = std::make_shared<spdlog::logger>("sender-test", m_sink);
        logger->set_level(spdlog::level::debug);
        spdlog::set_default_logger(logger);
    }
    ~LogCapture() { spdlog::set_default_logger(m_previous); }
    std::size_t count(spdlog::level::level_enum level, const std::string& needle) const {
        return m_sink->count(level, needle);
    }

  private:
    class Sink : public spdlog::sinks::base_sink<std::mutex> {
      public:
        std::size_t count(spdlog::level::level_enum level, const std::string& needle) {
            std::lock_guard lock(mutex_);
            return static_cast<std::size_t>(
                std::count_if(m_lines.begin(), m_lines.end(), [&](const auto& line) {
                    return line.first == level && line.second.find(needle) != std::string::npos;
                }));
        }

      protected:
        void sink_it_(const spdlog::details::log_msg& msg) override {
            m_lines.emplace_back(msg.level, std::string(msg.payload.data(), msg.payload.size()));
        }
        void flush_() override {}

      private:
        std::vector<std::pair<spdlog::level::level_enum, std::string>> m_lines;
    };
    std::shared_ptr<Sink> m_sink;
    std::shared_ptr<spdlog::logger> m_previous;
};

std::string event(int n, std::size_t padding = 0) {
    return R"({"kind":"custom","key":"k)" + std::to_string(n) + R"(","data":")" +
           std::string(padding, 'x') + R"(","contextKeys":{"user":"u, \"]}"}})";
}

Payload make_payload(const std::vector<std::string>& events, SdkKind sdk = SdkKind::server,
                     PayloadMetadata metadata = {4, ""}) {
    Payload payload;
    payload.id = util::make_uuid_v4();
    payload.env_name = "production";
    payload.sdk = sdk;
    payload.data = DataKind::analytics;
    payload.metadata = std::move(metadata);
    std::vector<std::string_view> views(events.begin(), events.end());
    payload.body = join_events(views);
    payload.event_count = events.size();
    return payload;
}

SenderOptions test_options(const RecordingUpstream& upstream, bool gzip) {
    SenderOptions options;
    options.events_uri = upstream.url();
    options.gzip = gzip;
    options.retry_delay = 50ms;
    options.connect_timeout = 2000ms;
    options.request_timeout = 5000ms;
    return options;
}

// A port on 127.0.0.1 that nothing listens on: bound, then closed.
std::uint16_t closed_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    socklen_t len = sizeof(addr);
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    ::close(fd);
    return ntohs(addr.sin_port);
}

std::multiset<std::string> elements_of(const std::string& body) {
    const auto views = evrelay::array_element_spans(body);
    REQUIRE(views);
    return {views->begin(), views->end()};
}

} // namespace

TEST_CASE("Sender::submit sends the headers and body of SPEC §2", "[sender]") {
    RecordingUpstream upstream;
    EnvironmentTable environments({production()});
    RecordingListener listener;
    CounterRegistry counters;

    SECTION("gzip on, with tags") {
        Sender sender(test_options(upstream, true), environments, listener, counters);
        Payload payload = make_payload({event(1), event(2), event(3)}, SdkKind::server,
                                       {4, "application-id/web application-version/1.2"});
        const std::string id = payload.id;
        const std::string body = payload.body;
        sender.submit(std::move(payload));
        REQUIRE(listener.wait_for_outcomes(1));
        REQUIRE(sender.wait_idle(k_wait));

        const auto requests = upstream.requests();
        REQUIRE(requests.size() == 1);
        const RecordedRequest& r = requests[0];
        CHECK(r.method == "POST");
        CHECK(r.target == "/bulk");
        CHECK(r.header("content-type") == "application/json");
        CHECK(r.header("authorization") == k_sdk_key);
        CHECK(r.header("user-agent") == std::string("evrelay/") + EVRELAY_VERSION);
        CHECK(r.header("x-launchdarkly-event-schema") == "4");
        CHECK(r.header("x-launchdarkly-payload-id") == id);
        CHECK(util::is_uuid(r.header("x-launchdarkly-payload-id")));
        CHECK(r.header("x-launchdarkly-tags") == "application-id/web application-version/1.2");
        CHECK(r.header("content-encoding") == "gzip");
        CHECK(r.header("expect").empty());
        CHECK(util::looks_gzipped(r.raw_body));
        CHECK(r.body == body);

        const auto delivered = listener.delivered();
        REQUIRE(delivered.size() == 1);
        CHECK(delivered[0].id == id);
        CHECK(delivered[0].status == 202);
        const DeliveryCounters& c = counters.for_target("production", SdkKind::server);
        CHECK(c.events_forwarded == 3);
        CHECK(c.payloads_sent == 1);
        CHECK(c.retries == 0);
    }
    SECTION("gzip off, no tags: the body bytes arrive exactly and no tags header is sent") {
        Sender sender(test_options(upstream, false), environments, listener, counters);
        Payload payload = make_payload({event(1), event(2)}, SdkKind::server, {3, ""});
        const std::string body = payload.body;
        sender.submit(std::move(payload));
        REQUIRE(listener.wait_for_outcomes(1));
        const auto requests = upstream.requests();
        REQUIRE(requests.size() == 1);
        CHECK(requests[0].raw_body == body);
        CHECK(requests[0].header("content-encoding").empty());
        CHECK(requests[0].headers.count("x-launchdarkly-tags") == 0);
        CHECK(requests[0].header("x-launchdarkly-event-schema") == "3");
        CHECK(requests[0].header("authorization") == k_sdk_key);
    }
    SECTION("mobile uses /mobile and the mobile key") {
        Sender sender(test_options(upstream, true), environments, listener, counters);
        sender.submit(make_payload({event(1)}, SdkKind::mobile));
        REQUIRE(listener.wait_for_outcomes(1));
        const auto requests = upstream.requests();
        REQUIRE(requests.size() == 1);
        CHECK(requests[0].target == "/mobile");
        CHECK(requests[0].header("authorization") == k_mobile_key);
    }
    SECTION("js uses /events/bulk/{envId} and sends no Authorization") {
        Sender sender(test_options(upstream, true), environments, listener, counters);
        sender.submit(make_payload({event(1)}, SdkKind::js));
        REQUIRE(listener.wait_for_outcomes(1));
        const auto requests = upstream.requests();
        REQUIRE(requests.size() == 1);
        CHECK(requests[0].target == "/events/bulk/" + k_env_id);
        CHECK(requests[0].headers.count("authorization") == 0);
        CHECK(requests[0].header("x-launchdarkly-payload-id").size() == 36);
        CHECK(requests[0].header("content-encoding") == "gzip");
    }
}

TEST_CASE("Sender::submit forwards diagnostics without payload ID or schema", "[sender]") {
    RecordingUpstream upstream;
    EnvironmentTable environments({production()});
    RecordingListener listener;
    CounterRegistry counters;
    Sender sender(test_options(upstream, false), environments, listener, counters);

    Payload diag;
    diag.env_name = "production";
    diag.sdk = SdkKind::server;
    diag.data = DataKind::diagnostic;
    diag.body = R"({"kind":"diagnostic","id":{"diagnosticId":"d1"}})";
    diag.event_count = 1;

    SECTION("own headers") {
        sender.submit(std::move(diag));
        REQUIRE(listener.wait_for_outcomes(1));
        const auto requests = upstream.requests();
        REQUIRE(requests.size() == 1);
        CHECK(requests[0].target == "/diagnostic");
        CHECK(requests[0].header("authorization") == k_sdk_key);
        CHECK(requests[0].headers.count("x-launchdarkly-payload-id") == 0);
        CHECK(requests[0].headers.count("x-launchdarkly-event-schema") == 0);
        CHECK(requests[0].raw_body == R"({"kind":"diagnostic","id":{"diagnosticId":"d1"}})");
        CHECK(counters.for_target("production", SdkKind::server).diagnostics_forwarded == 1);
    }
    SECTION("pass-through headers replace the defaults; others are not forwarded") {
        diag.passthrough_headers = {{"Authorization", "api_key " + k_sdk_key},
                                    {"User-Agent", "NodeJSClient/9.0"},
                                    {"Content-Type", "application/json"},
                                    {"X-LaunchDarkly-Wrapper", "react/3"},
                                    {"X-Unrelated", "no"},
                                    {"Content-Length", "99999"}};
        sender.submit(std::move(diag));
        REQUIRE(listener.wait_for_outcomes(1));
        const auto requests = upstream.requests();
        REQUIRE(requests.size() == 1);
        const RecordedRequest& r = requests[0];
        CHECK(r.header("authorization") == "api_key " + k_sdk_key);
        CHECK(r.header("user-agent") == "NodeJSClient/9.0");
        CHECK(r.header("x-launchdarkly-wrapper") == "react/3");
        CHECK(r.headers.count("x-unrelated") == 0);
        CHECK(r.header("content-length") != "99999");
        CHECK(r.headers.count("x-launchdarkly-payload-id") == 0);
        CHECK(r.body == R"({"kind":"diagnostic","id":{"diagnosticId":"d1"}})");
    }
    SECTION("js diagnostics go to /events/diagnostic/{envId}") {
        diag.sdk = SdkKind::js;
        sender.submit(std::move(diag));
        REQUIRE(listener.wait_for_outcomes(1));
        const auto requests = upstream.requests();
        REQUIRE(requests.size() == 1);
        CHECK(requests[0].target == "/events/diagnostic/" + k_env_id);
        CHECK(requests[0].headers.count("authorization") == 0);
    }
}

TEST_CASE("Sender retries recoverable failures with the same payload", "[sender]") {
    RecordingUpstream upstream;
    EnvironmentTable environments({production()});
    RecordingListener listener;
    CounterRegistry counters;

    SECTION("503 then 202: two requests, same ID and body, retry_delay apart") {
        Sender sender(test_options(upstream, true), environments, listener, counters);
        upstream.script({503});
        Payload payload = make_payload({event(1), event(2)});
        const std::string id = payload.id;
        const std::string body = payload.body;
        sender.submit(std::move(payload));
        REQUIRE(listener.wait_for_outcomes(1));
        const auto requests = upstream.requests();
        REQUIRE(requests.size() == 2);
        CHECK(requests[0].status == 503);
        CHECK(requests[1].status == 202);
        CHECK(requests[0].header("x-launchdarkly-payload-id") == id);
        CHECK(requests[1].header("x-launchdarkly-payload-id") == id);
        CHECK(requests[0].body == body);
        CHECK(requests[1].body == body);
        CHECK(requests[1].raw_body == requests[0].raw_body); // compressed once, reused
        CHECK(requests[1].received - requests[0].received >= 45ms);
        REQUIRE(listener.delivered().size() == 1);
        const DeliveryCounters& c = counters.for_target("production", SdkKind::server);
        CHECK(c.retries == 1);
        CHECK(c.payloads_sent == 1);
        CHECK(counters.upstream_failures()[503] == 1);
    }
    SECTION("503 twice with one retry: retries exhausted") {
        Sender sender(test_options(upstream, true), environments, listener, counters);
        upstream.script({503, 503});
        Payload payload = make_payload({event(1)});
        const std::string id = payload.id;
        sender.submit(std::move(payload));
        REQUIRE(listener.wait_for_outcomes(1));
        CHECK(upstream.request_count() == 2);
        const auto failed = listener.failed();
        REQUIRE(failed.size() == 1);
        CHECK(std::get<0>(failed[0]) == id);
        CHECK(std::get<1>(failed[0]) == Undeliverable::retries_exhausted);
        CHECK(std::get<2>(failed[0]) == 503);
        CHECK_FALSE(std::get<3>(failed[0]).empty()); // the body comes back, to spool
        CHECK(listener.delivered().empty());
    }
    SECTION("400, 408, 429 and 500 are recoverable") {
        Sender sender(test_options(upstream, false), environments, listener, counters);
        const std::vector<int> statuses = {400, 408, 429, 500};
        for (std::size_t i = 0; i < statuses.size(); ++i) {
            INFO("status " << statuses[i]);
            upstream.script({statuses[i]});
            sender.submit(make_payload({event(static_cast<int>(i))}));
            REQUIRE(sender.wait_idle(k_wait));
            CHECK(upstream.request_count() == 2 * (i + 1));
            CHECK(listener.delivered().size() == i + 1);
        }
        CHECK(listener.failed_count() == 0);
    }
    SECTION("more retries back off exponentially") {
        SenderOptions options = test_options(upstream, false);
        options.retries = 3;
        Sender sender(options, environments, listener, counters);
        upstream.script({503, 503, 503});
        sender.submit(make_payload({event(1)}));
        REQUIRE(listener.wait_for_outcomes(1));
        const auto requests = upstream.requests();
        REQUIRE(requests.size() == 4);
        CHECK(listener.delivered().size() == 1);
        // retry 1: 50 ms; retry 2: [50, 100] ms; retry 3: [100, 200] ms.
        CHECK(requests[1].received - requests[0].received >= 45ms);
        CHECK(requests[2].received - requests[1].received >= 45ms);
        CHECK(requests[3].received - requests[2].received >= 95ms);
        CHECK(counters.for_target("production", SdkKind::server).retries == 3);
    }
    SECTION("connection refused: retried, then exhausted with status 0") {
        SenderOptions options = test_options(upstream, false);
        options.events_uri = "http://127.0.0.1:" + std::to_string(closed_port());
        options.retries = 2;
        Sender sender(options, environments, listener, counters);
        const auto start = std::chrono::steady_clock::now();
        sender.submit(make_payload({event(1)}));
        REQUIRE(listener.wait_for_outcomes(1));
        const auto failed = listener.failed();
        REQUIRE(failed.size() == 1);
        CHECK(std::get<1>(failed[0]) == Undeliverable::retries_exhausted);
        CHECK(std::get<2>(failed[0]) == 0);
        CHECK(std::chrono::steady_clock::now() - start >= 90ms); // 50 + at least 25
        CHECK(counters.for_target("production", SdkKind::server).retries == 2);
        CHECK(counters.upstream_failures()[0] == 3);
    }
    SECTION("a stalled upstream times out, which is recoverable") {
        SenderOptions options = test_options(upstream, false);
        options.request_timeout = 200ms;
        Sender sender(options, environments, listener, counters);
        upstream.set_stall(true);
        Payload payload = make_payload({event(1)});
        const std::string id = payload.id;
        sender.submit(std::move(payload));
        REQUIRE(listener.wait_for_outcomes(1));
        const auto requests = upstream.requests();
        REQUIRE(requests.size() == 2);
        CHECK(requests[1].header("x-launchdarkly-payload-id") == id);
        CHECK(requests[1].received - requests[0].received >= 245ms);
        const auto failed = listener.failed();
        REQUIRE(failed.size() == 1);
        CHECK(std::get<1>(failed[0]) == Undeliverable::retries_exhausted);
        CHECK(std::get<2>(failed[0]) == 0);
        upstream.set_stall(false);
    }
}

TEST_CASE("Sender disables a rejected credential until it changes", "[sender]") {
    RecordingUpstream upstream;
    EnvironmentTable environments({production()});
    RecordingListener listener;
    CounterRegistry counters;
    LogCapture logs;
    Sender sender(test_options(upstream, true), environments, listener, counters);

    upstream.script({401});
    sender.submit(make_payload({event(1)}));
    REQUIRE(listener.wait_for_outcomes(1));
    REQUIRE(upstream.request_count() == 1); // not retried
    auto failed = listener.failed();
    REQUIRE(failed.size() == 1);
    CHECK(std::get<1>(failed[0]) == Undeliverable::rejected);
    CHECK(std::get<2>(failed[0]) == 401);

    // Later payloads for the same credential fail at once, without a request.
    sender.submit(make_payload({event(2)}));
    sender.submit(make_payload({event(3)}));
    REQUIRE(listener.wait_for_outcomes(3));
    CHECK(upstream.request_count() == 1);
    failed = listener.failed();
    REQUIRE(failed.size() == 3);
    CHECK(std::get<1>(failed[1]) == Undeliverable::disabled);
    CHECK(std::get<1>(failed[2]) == Undeliverable::disabled);

    // One error names the environment and the masked credential; the key itself never appears.
    CHECK(logs.count(spdlog::level::err, "production") == 1);
    CHECK(logs.count(spdlog::level::err, "sdk-****1234") == 1);
    CHECK(logs.count(spdlog::level::err, k_sdk_key) == 0);

    // Other SDK kinds of the environment are unaffected.
    sender.submit(make_payload({event(4)}, SdkKind::mobile));
    REQUIRE(listener.wait_for_outcomes(4));
    CHECK(upstream.request_count() == 2);

    // A reload with a new key re-enables delivery, with the new key.
    Environment fixed = production();
    fixed.sdk_key = "sdk-99999999-8888-7777-6666-555555559999";
    environments.replace({fixed});
    sender.submit(make_payload({event(5)}));
    REQUIRE(listener.wait_for_outcomes(5));
    const auto requests = upstream.requests();
    REQUIRE(requests.size() == 3);
    CHECK(requests[2].header("authorization") == fixed.sdk_key);
    CHECK(listener.delivered().size() == 2);
}

TEST_CASE("Sender reads the credential at every attempt", "[sender]") {
    RecordingUpstream upstream;
    EnvironmentTable environments({production()});
    RecordingListener listener;
    CounterRegistry counters;
    SenderOptions options = test_options(upstream, false);
    options.retry_delay = 300ms;
    Sender sender(options, environments, listener, counters);

    // The key changes while the payload waits for its retry: the retry uses the new key.
    upstream.script({503});
    sender.submit(make_payload({event(1)}));
    REQUIRE(upstream.wait_for_requests(1, k_wait));
    Environment fixed = production();
    fixed.sdk_key = "sdk-new-key-0000";
    environments.replace({fixed});
    REQUIRE(listener.wait_for_outcomes(1));
    const auto requests = upstream.requests();
    REQUIRE(requests.size() == 2);
    CHECK(requests[0].header("authorization") == k_sdk_key);
    CHECK(requests[1].header("authorization") == "sdk-new-key-0000");
    CHECK(requests[0].header("x-launchdarkly-payload-id") ==
          requests[1].header("x-launchdarkly-payload-id"));
}

TEST_CASE("Sender reports a missing credential", "[sender]") {
    RecordingUpstream upstream;
    Environment env = production();
    env.mobile_key.clear();
    EnvironmentTable environments({env});
    RecordingListener listener;
    CounterRegistry counters;
    Sender sender(test_options(upstream, false), environments, listener, counters);

    sender.submit(make_payload({event(1)}, SdkKind::mobile));
    Payload unknown = make_payload({event(2)});
    unknown.env_name = "staging";
    sender.submit(std::move(unknown));
    REQUIRE(listener.wait_for_outcomes(2));
    const auto failed = listener.failed();
    REQUIRE(failed.size() == 2);
    CHECK(std::get<1>(failed[0]) == Undeliverable::no_credential);
    CHECK(std::get<1>(failed[1]) == Undeliverable::no_credential);
    CHECK(upstream.request_count() == 0);
}

TEST_CASE("Sender splits a payload answered 413", "[sender]") {
    RecordingUpstream upstream;
    EnvironmentTable environments({production()});
    RecordingListener listener;
    CounterRegistry counters;
    MemoryBudget budget(1 << 20);
    const bool gzip = GENERATE(false, true);
    Sender sender(test_options(upstream, gzip), environments, listener, counters);

    SECTION("halves with new IDs until they fit; every event delivered exactly once") {
        std::vector<std::string> events;
        for (int i = 0; i < 11; ++i) {
            events.push_back(event(i, 200));
        }
        // Room for three events per request, so 11 events split down to pieces of 2 or 3.
        upstream.set_max_body_bytes(3 * events[0].size() + 10);
        Payload payload = make_payload(events);
        const std::string original_id = payload.id;
        const std::string original_body = payload.body;
        budget.acquire(payload.body.size());
        payload.lease = BudgetLease(budget, payload.body.size());
        REQUIRE(budget.used() == original_body.size());
        sender.submit(std::move(payload));
        REQUIRE(sender.wait_idle(k_wait));

        CHECK(listener.failed_count() == 0);
        std::multiset<std::string> delivered_events;
        std::set<std::string> ids;
        std::size_t counted = 0;
        for (const Delivered& d : listener.delivered()) {
            CHECK(d.status == 202);
            CHECK(d.id != original_id);
            CHECK(util::is_uuid(d.id));
            ids.insert(d.id);
            const auto elements = elements_of(d.body);
            CHECK(elements.size() == d.event_count);
            counted += d.event_count;
            delivered_events.insert(elements.begin(), elements.end());
        }
        CHECK(ids.size() == listener.delivered().size());
        CHECK(delivered_events == elements_of(original_body));
        CHECK(counted == events.size());
        // The upstream saw every accepted body once (plus the rejected bigger ones).
        std::multiset<std::string> accepted_events;
        for (const RecordedRequest& r : upstream.requests()) {
            if (r.status == 202) {
                const auto elements = elements_of(r.body);
                accepted_events.insert(elements.begin(), elements.end());
            }
        }
        CHECK(accepted_events == delivered_events);
        const DeliveryCounters& c = counters.for_target("production", SdkKind::server);
        CHECK(c.splits >= 3);
        CHECK(c.events_forwarded == events.size());
        CHECK(budget.used() == 0); // the lease followed the halves and was given back
    }
    SECTION("the same payload split again gets the same half IDs (a re-sent spool line)") {
        std::vector<std::string> events;
        for (int i = 0; i < 8; ++i) {
            events.push_back(event(i, 200));
        }
        upstream.set_max_body_bytes(3 * events[0].size() + 10);
        const Payload original = make_payload(events);
        auto delivered_ids = [&] {
            Payload copy;
            copy.id = original.id;
            copy.env_name = original.env_name;
            copy.sdk = original.sdk;
            copy.metadata = original.metadata;
            copy.body = original.body;
            copy.event_count = original.event_count;
            const std::size_t before = listener.delivered().size();
            sender.submit(std::move(copy));
            REQUIRE(sender.wait_idle(k_wait));
            std::set<std::string> ids;
            const auto all = listener.delivered();
            for (std::size_t i = before; i < all.size(); ++i) {
                ids.insert(all[i].id);
            }
            return ids;
        };
        const auto first = delivered_ids();
        const auto second = delivered_ids();
        CHECK(first.size() >= 3);
        CHECK(first == second);
        CHECK(first.count(original.id) == 0);
    }
    SECTION("a single event that is still too large is dropped as too_large") {
        LogCapture logs;
        upstream.set_max_body_bytes(100);
        Payload payload = make_payload({event(1, 500)});
        const std::size_t size = payload.body.size();
        sender.submit(std::move(payload));
        REQUIRE(listener.wait_for_outcomes(1));
        const auto failed = listener.failed();
        REQUIRE(failed.size() == 1);
        CHECK(std::get<1>(failed[0]) == Undeliverable::too_large);
        CHECK(std::get<2>(failed[0]) == 413);
        CHECK(upstream.request_count() == 1);
        CHECK(logs.count(spdlog::level::warn, std::to_string(size) + " bytes") == 1);
    }
}

TEST_CASE("Sender::submit blocks while the in-flight bound is exceeded", "[sender]") {
    RecordingUpstream upstream;
    EnvironmentTable environments({production()});
    RecordingListener listener;
    CounterRegistry counters;
    SenderOptions options = test_options(upstream, false);
    const Payload probe = make_payload({event(0, 500)});
    const std::size_t size = probe.body.size();
    options.max_in_flight_bytes = size + size / 2; // one payload fits, two do not
    Sender sender(options, environments, listener, counters);

    upstream.set_stall(true);
    sender.submit(make_payload({event(1, 500)})); // admitted: nothing was in flight
    REQUIRE(upstream.wait_for_requests(1, k_wait));
    CHECK(sender.in_flight_bytes() == size);

    std::atomic<bool> second_returned{false};
    std::thread producer([&] {
        sender.submit(make_payload({event(2, 500)}));
        second_returned = true;
    });
    std::this_thread::sleep_for(150ms);
    CHECK_FALSE(second_returned.load());
    CHECK(sender.pending_payloads() == 1);
    CHECK_FALSE(sender.wait_idle(10ms));

    upstream.set_stall(false); // the first is answered; the second gets in
    producer.join();
    CHECK(second_returned.load());
    REQUIRE(sender.wait_idle(k_wait));
    CHECK(listener.delivered().size() == 2);
    CHECK(sender.in_flight_bytes() == 0);
}

TEST_CASE("Sender::stop reports everything pending as shutdown", "[sender]") {
    RecordingUpstream upstream;
    EnvironmentTable environments({production()});
    RecordingListener listener;
    CounterRegistry counters;
    SenderOptions options = test_options(upstream, true);
    options.retry_delay = 10s; // the 503'd payload sits in the retry queue
    options.max_concurrent_requests = 2;
    Sender sender(options, environments, listener, counters);

    upstream.script({503});
    sender.submit(make_payload({event(0)}));
    REQUIRE(upstream.wait_for_requests(1, k_wait));
    upstream.set_stall(true);
    for (int i = 1; i <= 4; ++i) {
        sender.submit(make_payload({event(i)})); // two in flight, two waiting for a slot
    }
    REQUIRE(upstream.wait_for_requests(3, k_wait));
    CHECK(sender.pending_payloads() == 5);

    sender.stop();
    CHECK(listener.failed_count() == 5);
    for (const auto& f : listener.failed()) {
        CHECK(std::get<1>(f) == Undeliverable::shutdown);
    }
    CHECK(sender.pending_payloads() == 0);
    CHECK(sender.wait_idle(0ms));

    sender.stop(); // idempotent
    sender.submit(make_payload({event(9)}));
    CHECK(listener.failed_count() == 6);
    upstream.set_stall(false);
}

TEST_CASE("Sender delivers many payloads concurrently", "[sender]") {
    RecordingUpstream upstream;
    EnvironmentTable environments({production()});
    RecordingListener listener;
    CounterRegistry counters;
    SenderOptions options = test_options(upstream, true);
    options.max_concurrent_requests = 4;
    Sender sender(options, environments, listener, counters);

    std::set<std::string> ids;
    for (int i = 0; i < 200; ++i) {
        Payload payload = make_payload({event(2 * i), event(2 * i + 1)});
        ids.insert(payload.id);
        sender.submit(std::move(payload));
    }
    REQUIRE(sender.wait_idle(k_wait));
    CHECK(listener.delivered().size() == 200);
    std::set<std::string> seen;
    for (const RecordedRequest& r : upstream.requests()) {
        seen.insert(r.header("x-launchdarkly-payload-id"));
    }
    CHECK(seen == ids);
    CHECK(counters.for_target("production", SdkKind::server).events_forwarded == 400);
}

// A listener that counts the deliveries not yet followed by on_outcomes_reported().
class BatchListener : public RecordingListener {
  public:
    void on_delivered(const Payload& payload, long status) override {
        {
            std::lock_guard lock(m_batch_mutex);
            ++m_unreported;
            m_most_unreported = std::max(m_most_unreported, m_unreported);
        }
        RecordingListener::on_delivered(payload, status);
    }
    void on_outcomes_reported() override {
        std::lock_guard lock(m_batch_mutex);
        m_unreported = 0;
        ++m_reports;
    }
    std::size_t unreported() const {
        std::lock_guard lock(m_batch_mutex);
        return m_unreported;
    }
    std::size_t most_unreported() const {
        std::lock_guard lock(m_batch_mutex);
        return m_most_unreported;
    }
    std::size_t reports() const {
        std::lock_guard lock(m_batch_mutex);
        return m_reports;
    }

  private:
    mutable std::mutex m_batch_mutex;
    std::size_t m_unreported = 0;
    std::size_t m_most_unreported = 0;
    std::size_t m_reports = 0;
};

TEST_CASE("Sender reports each run of outcomes before starting more requests", "[sender]") {
    RecordingUpstream upstream;
    EnvironmentTable environments({production()});
    BatchListener listener;
    CounterRegistry counters;
    SenderOptions options = test_options(upstream, false);
    options.max_concurrent_requests = 4;
    Sender sender(options, environments, listener, counters);

    for (int i = 0; i < 100; ++i) {
        sender.submit(make_payload({event(i)}));
    }
    REQUIRE(sender.wait_idle(k_wait));
    CHECK(listener.delivered().size() == 100);
    // The report follows the outcomes it covers on the sender's thread: wait for the last one.
    const auto deadline = std::chrono::steady_clock::now() + k_wait;
    while (listener.unreported() != 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    CHECK(listener.unreported() == 0);
    CHECK(listener.reports() >= 1);
    // Never more deliveries unreported than requests can be in flight at once.
    CHECK(listener.most_unreported() <= options.max_concurrent_requests);
}

TEST_CASE("split_array_in_halves", "[sender]") {
    SECTION("elements keep their bytes; strings with commas and brackets are not cut") {
        const std::string body = R"([{"a":"x,]}"},{"b":[1,2,{"c":"\"},"}]}, {"d":3} ,{"e":"\\"}])";
        const auto spans = evrelay::array_element_spans(body);
        REQUIRE(spans);
        const std::vector<std::string_view>& elements = *spans;
        REQUIRE(elements.size() == 4);
        CHECK(elements[0] == R"({"a":"x,]}"})");
        CHECK(elements[1] == R"({"b":[1,2,{"c":"\"},"}]})");
        CHECK(elements[2] == R"({"d":3})");
        CHECK(elements[3] == R"({"e":"\\"})");

        const auto halves = split_array_in_halves(body);
        REQUIRE(halves);
        CHECK(halves->first == R"([{"a":"x,]}"},{"b":[1,2,{"c":"\"},"}]}])");
        CHECK(halves->second == R"([{"d":3} ,{"e":"\\"}])");
        CHECK(halves->first_events == 2);
        CHECK(halves->second_events == 2);
    }
    SECTION("an odd count puts the extra element in the second half") {
        const auto halves = split_array_in_halves("[1,2,3]");
        REQUIRE(halves);
        CHECK(halves->first == "[1]");
        CHECK(halves->second == "[2,3]");
    }
    SECTION("nothing to split") {
        CHECK_FALSE(split_array_in_halves("[]"));
        CHECK_FALSE(split_array_in_halves(R"([{"a":1}])"));
        CHECK_FALSE(split_array_in_halves(R"({"kind":"diagnostic"})"));
        CHECK_FALSE(split_array_in_halves(R"([{"a":"unterminated])"));
        const auto elements = evrelay::array_element_spans(" [ ] ");
        REQUIRE(elements);
        CHECK(elements->empty());
    }
}

TEST_CASE("split_payload", "[sender]") {
    MemoryBudget budget(1000);
    budget.acquire(100);
    Payload whole = make_payload({event(1), event(2), event(3)});
    whole.origin = 7;
    whole.lease = BudgetLease(budget, 100);

    SECTION("two analytics payloads of their own, with the lease divided by bytes") {
        auto halves = split_payload(whole);
        REQUIRE(halves);
        CHECK(halves->first.event_count == 1);
        CHECK(halves->second.event_count == 2);
        CHECK(halves->first.body == "[" + event(1) + "]");
        CHECK(halves->second.body == "[" + event(2) + "," + event(3) + "]");
        for (const Payload* half : {&halves->first, &halves->second}) {
            CHECK(half->env_name == whole.env_name);
            CHECK(half->sdk == whole.sdk);
            CHECK(half->data == DataKind::analytics);
            CHECK(half->metadata == whole.metadata);
            CHECK(half->origin == 7);
            CHECK(half->created == whole.created);
            CHECK_FALSE(half->id.empty());
            CHECK(half->id != whole.id);
        }
        CHECK(halves->first.id != halves->second.id);
        CHECK(halves->first.lease.bytes() + halves->second.lease.bytes() == 100);
        CHECK(halves->first.lease.bytes() < halves->second.lease.bytes());
        CHECK(whole.lease.bytes() == 0);
        CHECK(budget.used() == 100); // moved, not released
        halves.reset();
        CHECK(budget.used() == 0);
    }
    SECTION("the same payload split again: the same half IDs") {
        Payload again = make_payload({event(1), event(2), event(3)});
        again.id = whole.id;
        auto first = split_payload(whole);
        auto second = split_payload(again);
        REQUIRE(first);
        REQUIRE(second);
        CHECK(first->first.id == second->first.id);
        CHECK(first->second.id == second->second.id);
    }
    SECTION("nothing to split: a single event, or a diagnostic payload; untouched") {
        Payload single = make_payload({event(1)});
        single.lease = std::move(whole.lease);
        CHECK_FALSE(split_payload(single));
        CHECK(single.lease.bytes() == 100);
        Payload diagnostic = make_payload({event(1), event(2)});
        diagnostic.data = DataKind::diagnostic;
        CHECK_FALSE(split_payload(diagnostic));
        CHECK(diagnostic.event_count == 2);
    }
}
