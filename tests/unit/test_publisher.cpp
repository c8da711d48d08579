#include "core/pipeline/publisher.hpp"
#include "core/util/uuid.hpp"

#include <catch2/catch.hpp>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <set>
#include <thread>

using namespace evrelay;

namespace {

// Records every payload it is given; the payloads (and their budget leases) live until cleared.
class RecordingSink : public PayloadSink {
  public:
    void submit(Payload payload) override {
        std::lock_guard lock(m_mutex);
        m_payloads.push_back(std::move(payload));
    }
    std::vector<Payload> take() {
        std::lock_guard lock(m_mutex);
        std::vector<Payload> result = std::move(m_payloads);
        m_payloads.clear();
        return result;
    }
    std::size_t size() {
        std::lock_guard lock(m_mutex);
        return m_payloads.size();
    }

  private:
    std::mutex m_mutex;
    std::vector<Payload> m_payloads;
};

class RecordingOverflow : public OverflowHandler {
  public:
    void on_overflow(const std::string& env_name, SdkKind sdk, const PayloadMetadata& metadata,
                     const std::vector<std::string_view>& events) override {
        last_env = env_name;
        last_sdk = sdk;
        last_metadata = metadata;
        for (const std::string_view event : events) {
            received.emplace_back(event);
        }
    }
    std::string last_env;
    SdkKind last_sdk = SdkKind::server;
    PayloadMetadata last_metadata;
    std::vector<std::string> received;
};

// Routes the default spdlog logger into a ring buffer for the duration of a test.
class LogCapture {
  public:
    LogCapture()
        : m_sink(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256)),
          m_previous(spdlog::default_logger()) {
        auto logger = std::make_shared<spdlog::logger>("publisher-test-capture", m_sink);
        logger->set_level(spdlog::level::trace);
        spdlog::set_default_logger(logger);
    }
    ~LogCapture() { spdlog::set_default_logger(m_previous); }
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;

    std::size_t count(std::string_view needle) const {
        const std::vector<std::string> lines = m_sink->last_formatted();
        return static_cast<std::size_t>(
            std::count_if(lines.begin(), lines.end(), [&](const auto& line) {
                return line.find(needle) != std::string::npos;
            }));
    }

  private:
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> m_sink;
    std::shared_ptr<spdlog::logger> m_previous;
};

std::vector<std::string_view> views(const std::vector<std::string>& events) {
    return {events.begin(), events.end()};
}

std::string event_of_size(std::size_t size, std::size_t index) {
    // A JSON object of exactly `size` bytes (size >= 16) whose content identifies it.
    std::string head = "{\"i\":" + std::to_string(index) + ",\"p\":\"";
    std::string event = head + std::string(size - head.size() - 2, 'x') + "\"}";
    REQUIRE(event.size() == size);
    return event;
}

std::string joined(const std::vector<std::string>& events) {
    std::string body = "[";
    for (std::size_t i = 0; i < events.size(); ++i) {
        if (i != 0) {
            body += ',';
        }
        body += events[i];
    }
    return body + "]";
}

std::size_t budget_of(const std::vector<std::string>& events) {
    std::size_t total = 0;
    for (const auto& event : events) {
        total += event.size() + 1;
    }
    return total;
}

struct Fixture {
    explicit Fixture(PublisherOptions options = {}, std::size_t limit = 1u << 30,
                     OverflowHandler* overflow = nullptr)
        : budget(limit),
          publisher("production", SdkKind::server, options, sink, budget, counters, overflow) {}
    RecordingSink sink;
    MemoryBudget budget;
    DeliveryCounters counters;
    Publisher publisher;
};

const PayloadMetadata k_schema4{4, ""};

} // namespace

TEST_CASE("Publisher::publish groups events by metadata", "[publisher][core]") {
    Fixture f;
    const PayloadMetadata tagged{4, "application-id/web"};
    const PayloadMetadata schema3{3, ""};
    f.publisher.publish(k_schema4, {R"({"kind":"a1"})"});
    f.publisher.publish(tagged, {R"({"kind":"t1"})", R"({"kind":"t2"})"});
    f.publisher.publish(schema3, {R"({"kind":"s1"})"});
    f.publisher.publish(k_schema4, {R"({"kind":"a2"})"});
    CHECK(f.publisher.queue_count() == 3);
    CHECK(f.publisher.queued_events() == 5);
    CHECK(f.sink.size() == 0);

    f.publisher.flush();
    std::vector<Payload> payloads = f.sink.take();
    REQUIRE(payloads.size() == 3);
    std::map<std::pair<int, std::string>, std::string> bodies;
    for (const Payload& payload : payloads) {
        CHECK(payload.env_name == "production");
        CHECK(payload.sdk == SdkKind::server);
        CHECK(payload.data == DataKind::analytics);
        bodies[{payload.metadata.schema_version, payload.metadata.tags}] = payload.body;
    }
    CHECK(bodies[{4, ""}] == R"([{"kind":"a1"},{"kind":"a2"}])");
    CHECK(bodies[{4, "application-id/web"}] == R"([{"kind":"t1"},{"kind":"t2"}])");
    CHECK(bodies[{3, ""}] == R"([{"kind":"s1"}])");
    CHECK(f.counters.events_received.load() == 5);
}

TEST_CASE("Publisher::publish cuts at batch_size", "[publisher][core]") {
    PublisherOptions options;
    options.batch_size = 3;
    Fixture f(options);
    std::vector<std::string> events;
    for (std::size_t i = 0; i < 7; ++i) {
        events.push_back(R"({"kind":"custom","n":)" + std::to_string(i) + "}");
    }
    const PublishResult result = f.publisher.publish(k_schema4, views(events));
    CHECK(result.accepted == 7);
    CHECK(result.overflowed == 0);

    // Cut as soon as a queue holds batch_size events, not at the next flush.
    std::vector<Payload> cut = f.sink.take();
    REQUIRE(cut.size() == 2);
    CHECK(cut[0].body == joined({events[0], events[1], events[2]}));
    CHECK(cut[0].event_count == 3);
    CHECK(cut[1].body == joined({events[3], events[4], events[5]}));
    CHECK(f.publisher.queued_events() == 1);

    f.publisher.flush();
    std::vector<Payload> rest = f.sink.take();
    REQUIRE(rest.size() == 1);
    CHECK(rest[0].body == joined({events[6]}));
    CHECK(rest[0].event_count == 1);
}

TEST_CASE("Publisher::publish cuts before exceeding batch_bytes", "[publisher][core]") {
    PublisherOptions options;
    options.batch_bytes = 100;
    Fixture f(options);
    std::vector<std::string> events;
    std::size_t index = 0;
    for (std::size_t size : {20, 30, 17, 45, 16, 99, 98, 150, 20, 33, 40, 27, 16, 16, 16, 80}) {
        events.push_back(event_of_size(size, index++));
    }
    // Several posts of different lengths, as SDKs send them.
    f.publisher.publish(k_schema4, {events.begin(), events.begin() + 3});
    f.publisher.publish(k_schema4, {events.begin() + 3, events.begin() + 9});
    f.publisher.publish(k_schema4, {events.begin() + 9, events.end()});
    f.publisher.flush();

    std::vector<Payload> payloads = f.sink.take();
    std::vector<std::string> delivered;
    for (std::size_t i = 0; i < payloads.size(); ++i) {
        const Payload& payload = payloads[i];
        INFO("payload " << i << ": " << payload.body);
        CHECK((payload.body.size() <= options.batch_bytes || payload.event_count == 1));
        // Byte-exact bodies: "[" + events joined by "," + "]".
        std::vector<std::string> mine(
            events.begin() + static_cast<std::ptrdiff_t>(delivered.size()),
            events.begin() + static_cast<std::ptrdiff_t>(delivered.size() + payload.event_count));
        CHECK(payload.body == joined(mine));
        delivered.insert(delivered.end(), mine.begin(), mine.end());
        // Cut as late as possible: the next event would not have fitted.
        if (i + 1 < payloads.size()) {
            CHECK(payload.body.size() + 1 + events[delivered.size()].size() > options.batch_bytes);
        }
    }
    CHECK(delivered == events);
    // The 150-byte event is larger than batch_bytes on its own: a payload of its own.
    const auto big = std::find_if(payloads.begin(), payloads.end(),
                                  [&](const Payload& p) { return p.body == joined({events[7]}); });
    CHECK(big != payloads.end());
}

TEST_CASE("Publisher::publish copies a compact post's events at once, with the same result",
          "[publisher][core]") {
    PublisherOptions options;
    options.batch_bytes = 100;
    options.batch_size = 5;
    Fixture f(options);
    // Views into one compact array body, as the inbound handler passes them, and into one with
    // spaces between the elements (which must go event by event).
    const std::string compact = R"([{"n":1},{"n":2},{"n":3}])";
    const std::string spaced = R"([{"n":4}, {"n":5}])";
    const std::vector<std::string_view> first{std::string_view(compact).substr(1, 7),
                                              std::string_view(compact).substr(9, 7),
                                              std::string_view(compact).substr(17, 7)};
    const std::vector<std::string_view> second{std::string_view(spaced).substr(1, 7),
                                               std::string_view(spaced).substr(10, 7)};
    f.publisher.publish(k_schema4, first);
    CHECK(f.publisher.queued_events() == 3);
    CHECK(f.budget.used() == 3 * 8);
    f.publisher.publish(k_schema4, second);
    // Five events: the batch_size cut happened on the per-event path.
    std::vector<Payload> cut = f.sink.take();
    REQUIRE(cut.size() == 1);
    CHECK(cut[0].body == R"([{"n":1},{"n":2},{"n":3},{"n":4},{"n":5}])");
    CHECK(cut[0].event_count == 5);
    f.publisher.publish(k_schema4, first);
    f.publisher.publish(k_schema4, first); // 6 would pass batch_size: not at once
    f.publisher.flush();
    std::vector<Payload> rest = f.sink.take();
    REQUIRE(rest.size() == 2);
    CHECK(rest[0].body == R"([{"n":1},{"n":2},{"n":3},{"n":1},{"n":2}])");
    CHECK(rest[1].body == R"([{"n":3}])");
    rest.clear();
    cut.clear();
    CHECK(f.budget.used() == 0);
}

TEST_CASE("Publisher::flush cuts one payload per non-empty queue with fresh IDs",
          "[publisher][core]") {
    PublisherOptions options;
    options.batch_size = 2;
    Fixture f(options);
    f.publisher.publish(k_schema4, {"{\"a\":1}", "{\"a\":2}", "{\"a\":3}"}); // one cut by size
    f.publisher.publish(PayloadMetadata{4, "x"}, {"{\"b\":1}"});
    f.publisher.publish(PayloadMetadata{4, "y"}, {"{\"c\":1}", "{\"c\":2}"}); // cut, then empty
    REQUIRE(f.sink.size() == 2);
    f.publisher.flush();
    std::vector<Payload> payloads = f.sink.take();
    REQUIRE(payloads.size() == 4); // 2 size cuts + queues (4,"") and (4,"x"); (4,"y") was empty

    std::set<std::string> ids;
    for (const Payload& payload : payloads) {
        CHECK(util::is_uuid(payload.id));
        CHECK(payload.id.size() == 36);
        CHECK(payload.id[14] == '4');
        ids.insert(payload.id);
    }
    CHECK(ids.size() == payloads.size());

    // Nothing queued: a flush sends nothing.
    f.publisher.flush();
    CHECK(f.sink.size() == 0);
}

TEST_CASE("Publisher::flush discards idle queues only when there are several",
          "[publisher][core]") {
    Fixture f;
    const PayloadMetadata other{4, "other"};

    SECTION("a single idle queue is kept") {
        f.publisher.publish(k_schema4, {"{}"});
        f.publisher.flush();
        f.publisher.flush();
        f.publisher.flush();
        CHECK(f.publisher.queue_count() == 1);
    }
    SECTION("with two queues, the one idle since the last flush goes") {
        f.publisher.publish(k_schema4, {"{}"});
        f.publisher.publish(other, {"{}"});
        f.publisher.flush();
        CHECK(f.publisher.queue_count() == 2); // both received since the previous flush
        f.publisher.publish(k_schema4, {"{\"again\":true}"});
        f.publisher.flush();
        CHECK(f.publisher.queue_count() == 1);
        CHECK(f.sink.size() == 3);
        // The survivor is the busy one: publishing to it does not create a queue.
        f.publisher.publish(k_schema4, {"{}"});
        CHECK(f.publisher.queue_count() == 1);
        f.publisher.publish(other, {"{}"});
        CHECK(f.publisher.queue_count() == 2);
    }
}

TEST_CASE("Publisher::publish overflows what does not fit, warning once per episode",
          "[publisher][core]") {
    LogCapture log;
    const std::vector<std::string> events = {event_of_size(39, 0), event_of_size(39, 1),
                                             event_of_size(39, 2)};
    // Room for exactly two of the three events (40 budget bytes each).
    Fixture f(PublisherOptions{}, 80);

    PublishResult first = f.publisher.publish(k_schema4, views(events));
    CHECK(first.accepted == 2);
    CHECK(first.overflowed == 1);
    CHECK(f.counters.events_dropped[static_cast<std::size_t>(DropReason::queue_full)].load() == 1);
    CHECK(f.counters.events_received.load() == 3);
    CHECK(f.budget.used() == 80);

    PublishResult second = f.publisher.publish(k_schema4, views(events));
    CHECK(second.accepted == 0);
    CHECK(second.overflowed == 3);
    CHECK(f.counters.dropped_total() == 4);
    CHECK(log.count("exceeded event queue capacity for production (server)") == 1);

    // Delivering (destroying) the payloads gives the room back; a publish that fits ends the
    // episode, so the next overflow warns again.
    f.publisher.flush();
    std::vector<Payload> payloads = f.sink.take();
    REQUIRE(payloads.size() == 1);
    CHECK(payloads[0].body == joined({events[0], events[1]}));
    payloads.clear();
    CHECK(f.budget.used() == 0);
    CHECK(f.publisher.publish(k_schema4, {events[0]}).overflowed == 0);
    CHECK(log.count("exceeded event queue capacity") == 1);
    CHECK(f.publisher.publish(k_schema4, views(events)).overflowed == 2);
    CHECK(log.count("exceeded event queue capacity") == 2);
    CHECK(f.counters.events_received.load() == 10);
}

TEST_CASE("Publisher::publish hands overflow to the OverflowHandler", "[publisher][core]") {
    LogCapture log;
    RecordingOverflow overflow;
    const std::vector<std::string> events = {event_of_size(20, 0), event_of_size(60, 1),
                                             event_of_size(20, 2)};
    Fixture f(PublisherOptions{}, 50, &overflow);
    const PayloadMetadata tagged{4, "t"};
    PublishResult result = f.publisher.publish(tagged, views(events));
    // The longest prefix that fits is kept; the rest goes, in order, to the handler.
    CHECK(result.accepted == 1);
    CHECK(result.overflowed == 2);
    CHECK(overflow.received == std::vector<std::string>{events[1], events[2]});
    CHECK(overflow.last_env == "production");
    CHECK(overflow.last_metadata == tagged);
    CHECK(f.counters.dropped_total() == 0);
    CHECK(log.count("spooled") == 1);
}

TEST_CASE("Publisher::publish with wait_for_room blocks until room is released",
          "[publisher][core]") {
    PublisherOptions options;
    options.wait_for_room = true;
    Fixture f(options, 100);
    f.budget.acquire(80);
    BudgetLease held(f.budget, 80);

    const std::vector<std::string> events = {event_of_size(19, 0), event_of_size(19, 1),
                                             event_of_size(19, 2)}; // 60 budget bytes
    std::atomic<bool> returned{false};
    auto result = std::async(std::launch::async, [&] {
        PublishResult r = f.publisher.publish(k_schema4, views(events));
        returned = true;
        return r;
    });
    CHECK(result.wait_for(std::chrono::milliseconds(100)) == std::future_status::timeout);
    CHECK_FALSE(returned);
    // The publisher's lock is not held while waiting: other calls go through.
    CHECK(f.publisher.queued_events() == 0);

    held.reset();
    REQUIRE(result.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
    const PublishResult r = result.get();
    CHECK(r.accepted == 3);
    CHECK(r.overflowed == 0);
    CHECK(f.publisher.queued_events() == 3);
    CHECK(f.budget.used() == 60);
}

TEST_CASE("Publisher::publish with wait_for_room hands its own queue over before waiting",
          "[publisher][core]") {
    PublisherOptions options;
    options.wait_for_room = true;
    Fixture f(options, 100);
    const std::vector<std::string> first = {event_of_size(59, 0)};
    const std::vector<std::string> second = {event_of_size(59, 1)};
    f.publisher.publish(k_schema4, views(first));
    CHECK(f.sink.size() == 0);

    // The second publish cannot fit while the first is queued: the queue is cut and submitted
    // so that its delivery can make room; "delivering" it here lets the publish finish.
    auto result = std::async(std::launch::async,
                             [&] { return f.publisher.publish(k_schema4, views(second)); });
    std::vector<Payload> delivered;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (delivered.empty() && std::chrono::steady_clock::now() < deadline) {
        delivered = f.sink.take();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    REQUIRE(delivered.size() == 1);
    CHECK(delivered[0].body == joined(first));
    delivered.clear();
    REQUIRE(result.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
    CHECK(result.get().accepted == 1);
    CHECK(f.publisher.queued_events() == 1);
}

TEST_CASE("Publisher::close flushes and refuses later events", "[publisher][core]") {
    LogCapture log;
    PublisherOptions options;
    SECTION("overflowing publisher") {
        options.wait_for_room = false;
    }
    SECTION("waiting publisher") {
        options.wait_for_room = true;
    }
    Fixture f(options);
    f.publisher.publish(k_schema4, {"{\"a\":1}", "{\"a\":2}"});
    f.publisher.close();
    std::vector<Payload> payloads = f.sink.take();
    REQUIRE(payloads.size() == 1);
    CHECK(payloads[0].body == R"([{"a":1},{"a":2}])");
    CHECK(f.publisher.queued_events() == 0);

    const PublishResult late = f.publisher.publish(k_schema4, {"{\"a\":3}"});
    CHECK(late.accepted == 0);
    CHECK(late.overflowed == 1);
    CHECK(f.publisher.publish(k_schema4, {"{\"a\":4}"}).overflowed == 1);
    CHECK(f.counters.events_dropped[static_cast<std::size_t>(DropReason::queue_full)].load() == 2);
    CHECK(f.counters.events_received.load() == 4);
    CHECK(log.count("published after shutdown began") == 1);
    f.publisher.flush();
    CHECK(f.sink.size() == 0);
    payloads.clear();
    CHECK(f.budget.used() == 0);
}

TEST_CASE("Publisher payloads hold the budget until they are destroyed", "[publisher][core]") {
    Fixture f;
    const std::vector<std::string> events = {event_of_size(30, 0), event_of_size(40, 1)};
    f.publisher.publish(k_schema4, views(events));
    CHECK(f.budget.used() == budget_of(events));
    CHECK(f.publisher.queued_bytes() == budget_of(events));

    f.publisher.flush();
    CHECK(f.publisher.queued_bytes() == 0);
    CHECK(f.budget.used() == budget_of(events)); // now held by the payload
    std::vector<Payload> payloads = f.sink.take();
    REQUIRE(payloads.size() == 1);
    CHECK(payloads[0].lease.bytes() == budget_of(events));
    payloads.clear();
    CHECK(f.budget.used() == 0);
}

TEST_CASE("Publisher queue memory stays within 1.1x the events' bytes", "[publisher][core]") {
    PublisherOptions options;
    options.batch_size = 1'000'000;
    options.batch_bytes = std::size_t{1} << 30; // nothing is cut
    Fixture f(options);
    // Built once: Catch runs the test case again for every section.
    static const std::vector<std::string> events = [] {
        std::vector<std::string> result;
        for (std::size_t i = 0; i < 100'000; ++i) {
            std::string event = "{\"i\":" + std::to_string(i) + ",\"p\":\"";
            event.append(376 + (i * 7919) % 41, 'x'); // ~380..420 bytes
            event.append("\"}");
            result.push_back(std::move(event));
        }
        return result;
    }();
    std::size_t raw = 0;
    for (const std::string& event : events) {
        raw += event.size();
    }
    SECTION("posts of 50 events") {
        for (std::size_t i = 0; i < events.size(); i += 50) {
            f.publisher.publish(k_schema4, {events.begin() + static_cast<std::ptrdiff_t>(i),
                                            events.begin() + static_cast<std::ptrdiff_t>(i + 50)});
        }
    }
    SECTION("posts of one event") {
        for (const std::string& event : events) {
            f.publisher.publish(k_schema4, {event});
        }
    }
    SECTION("one post") {
        f.publisher.publish(k_schema4, views(events));
    }
    CHECK(f.sink.size() == 0);
    CHECK(f.publisher.queued_events() == events.size());
    CHECK(f.publisher.queued_capacity_bytes() >= raw);
    CHECK(static_cast<double>(f.publisher.queued_capacity_bytes()) <=
          1.1 * static_cast<double>(raw));

    f.publisher.flush();
    std::vector<Payload> payloads = f.sink.take();
    REQUIRE(payloads.size() == 1);
    CHECK(payloads[0].body.size() == raw + events.size() + 1);
    CHECK(payloads[0].body.capacity() <= payloads[0].body.size() + 16);
    CHECK(payloads[0].body == joined(events));
    CHECK(f.publisher.queued_capacity_bytes() == 0);
}

TEST_CASE("Publisher queue memory for a small queue is exact", "[publisher][core]") {
    Fixture f;
    const std::string event = event_of_size(400, 0);
    f.publisher.publish(k_schema4, {event});
    CHECK(f.publisher.queued_capacity_bytes() == event.size());
}

TEST_CASE("Publisher::publish from many threads loses nothing", "[publisher][core]") {
    PublisherOptions options;
    options.batch_size = 7;
    options.batch_bytes = 300;
    Fixture f(options);
    constexpr int k_threads = 4;
    constexpr int k_posts = 200;
    std::vector<std::thread> threads;
    for (int t = 0; t < k_threads; ++t) {
        threads.emplace_back([&, t] {
            const PayloadMetadata metadata{4, t % 2 == 0 ? "even" : "odd"};
            for (int i = 0; i < k_posts; ++i) {
                const std::string a =
                    "{\"t\":" + std::to_string(t) + ",\"i\":" + std::to_string(i) + "}";
                f.publisher.publish(metadata, {a, a});
            }
        });
    }
    for (std::thread& thread : threads) {
        thread.join();
    }
    f.publisher.close();
    std::size_t events = 0;
    for (const Payload& payload : f.sink.take()) {
        CHECK(payload.event_count <= 7);
        CHECK(payload.body.size() <= 300);
        CHECK(std::count(payload.body.begin(), payload.body.end(), '{') ==
              static_cast<std::ptrdiff_t>(payload.event_count));
        events += payload.event_count;
    }
    CHECK(events == k_threads * k_posts * 2);
    CHECK(f.counters.events_received.load() == k_threads * k_posts * 2);
    CHECK(f.budget.used() == 0);
}
