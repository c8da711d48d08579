#include "core/pipeline/dispatcher.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <mutex>

using namespace evrelay;

namespace {

class CollectingSink : public PayloadSink {
  public:
    void submit(Payload payload) override {
        std::lock_guard lock(m_mutex);
        payloads.push_back(std::move(payload));
    }
    std::vector<Payload> payloads;

  private:
    std::mutex m_mutex;
};

} // namespace

TEST_CASE("Dispatcher routes by environment and SDK kind", "[dispatcher]") {
    CollectingSink sink;
    MemoryBudget budget(1u << 20);
    CounterRegistry counters;
    Dispatcher dispatcher(PublisherOptions{}, sink, budget, counters);
    const PayloadMetadata metadata{4, ""};

    dispatcher.publish("production", SdkKind::server, metadata, {R"({"kind":"a"})"});
    dispatcher.publish("staging", SdkKind::server, metadata, {R"({"kind":"b"})"});
    dispatcher.publish("production", SdkKind::mobile, metadata, {R"({"kind":"c"})"});
    dispatcher.publish("production", SdkKind::server, metadata, {R"({"kind":"d"})"});
    CHECK(dispatcher.publisher_count() == 3);
    CHECK(dispatcher.queued_events() == 4);
    CHECK(sink.payloads.empty());

    dispatcher.flush_all();
    REQUIRE(sink.payloads.size() == 3);
    std::map<std::pair<std::string, SdkKind>, std::string> bodies;
    for (const auto& payload : sink.payloads) {
        bodies[{payload.env_name, payload.sdk}] = payload.body;
    }
    CHECK(bodies[{"production", SdkKind::server}] == R"([{"kind":"a"},{"kind":"d"}])");
    CHECK(bodies[{"staging", SdkKind::server}] == R"([{"kind":"b"}])");
    CHECK(bodies[{"production", SdkKind::mobile}] == R"([{"kind":"c"}])");
    CHECK(counters.totals().received == 4);
}

TEST_CASE("Dispatcher::forward_diagnostic is not batched", "[dispatcher]") {
    CollectingSink sink;
    MemoryBudget budget(1u << 20);
    CounterRegistry counters;
    Dispatcher dispatcher(PublisherOptions{}, sink, budget, counters);

    dispatcher.forward_diagnostic("production", SdkKind::js, R"({"kind":"diagnostic-combined"})",
                                  {{"User-Agent", "Mozilla"}});
    REQUIRE(sink.payloads.size() == 1);
    const Payload& payload = sink.payloads[0];
    CHECK(payload.data == DataKind::diagnostic);
    CHECK(payload.sdk == SdkKind::js);
    CHECK(payload.id.empty());
    CHECK(payload.body == R"({"kind":"diagnostic-combined"})");
    CHECK(payload.passthrough_headers.size() == 1);
    CHECK(budget.used() == payload.body.size());
}

TEST_CASE("Dispatcher::forward_payload keeps the payload as it is", "[dispatcher]") {
    CollectingSink sink;
    MemoryBudget budget(1u << 20);
    CounterRegistry counters;
    Dispatcher dispatcher(PublisherOptions{}, sink, budget, counters);

    Payload payload;
    payload.id = "11111111-2222-4333-8444-555555555555";
    payload.env_name = "production";
    payload.body = R"([{"kind":"x"},{"kind":"y"}])";
    payload.event_count = 2;
    dispatcher.forward_payload(std::move(payload));
    REQUIRE(sink.payloads.size() == 1);
    CHECK(sink.payloads[0].id == "11111111-2222-4333-8444-555555555555");
    CHECK(sink.payloads[0].lease.bytes() == sink.payloads[0].body.size());
    CHECK(counters.totals().received == 2);
    sink.payloads.clear();
    CHECK(budget.used() == 0); // the lease went with the payload
}

namespace {

// Delivers at once: dropping a payload gives its budget lease back.
class DiscardingSink : public PayloadSink {
  public:
    void submit(Payload payload) override { m_events += payload.event_count; }
    std::atomic<std::size_t> m_events{0};
};

} // namespace

TEST_CASE("Dispatcher unblocks a waiting publish starved by another publisher's queue",
          "[dispatcher]") {
    DiscardingSink sink;
    const std::string event(100, 'x');
    MemoryBudget budget(1000); // room for 9 events of 101 budget bytes
    CounterRegistry counters;
    PublisherOptions options;
    options.wait_for_room = true;
    Dispatcher dispatcher(options, sink, budget, counters);

    // "staging" fills the budget and, with no flush timer, would hold it forever.
    dispatcher.publish("staging", SdkKind::server, {4, ""},
                       std::vector<std::string_view>(9, event));
    REQUIRE(sink.m_events == 0);

    auto publish = std::async(std::launch::async, [&] {
        return dispatcher.publish("production", SdkKind::server, {4, ""},
                                  std::vector<std::string_view>(5, event));
    });
    REQUIRE(publish.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    CHECK(publish.get().accepted == 5);
    CHECK(sink.m_events == 9); // staging's queue was flushed to make room
}
