#include "core/summary/summary_hub.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

using namespace evrelay;
using namespace std::chrono_literals;

namespace {

class RecordingSink : public PayloadSink {
  public:
    void submit(Payload payload) override {
        std::lock_guard lock(m_mutex);
        payloads.push_back(std::move(payload));
    }
    std::vector<Payload> payloads;

  private:
    std::mutex m_mutex;
};

const std::chrono::system_clock::time_point k_now{std::chrono::milliseconds(1795736416400)};

// A schema-2 PHP post: two evaluations of a tracked flag by one user, and a custom event.
const std::vector<std::string_view> k_php_post = {
    R"({"kind":"feature","creationDate":1795736416401,"key":"tracked","user":{"key":"u1"},"value":true,"default":false,"variation":0,"version":11})",
    R"({"kind":"feature","creationDate":1795736416402,"key":"tracked","user":{"key":"u1"},"value":true,"default":false,"variation":0,"version":11})",
    R"({"kind":"custom","creationDate":1795736416403,"key":"metric","user":{"key":"u1"}})",
};

struct Fixture {
    RecordingSink sink;
    MemoryBudget budget{16u << 20};
    CounterRegistry counters;
    Dispatcher dispatcher{PublisherOptions{}, sink, budget, counters};
    std::shared_ptr<const FlagData> flags = std::make_shared<const FlagData>(
        parse_flag_data(R"({"flags":{"tracked":{"version":11,"variations":[true,false],
                            "trackEvents":true,"debugEventsUntilDate":1795736476400}}})")
            .value());
    std::mutex lookups_mutex; // the hub asks from every publishing thread
    std::vector<std::string> flag_lookups;
    std::optional<std::chrono::system_clock::time_point> upstream_date;
    std::chrono::system_clock::time_point now = k_now;
    SummaryHub hub{dispatcher,
                   [this](const std::string& env) {
                       std::lock_guard lock(lookups_mutex);
                       flag_lookups.push_back(env);
                       return env == "production" ? flags : nullptr;
                   },
                   [this] { return upstream_date; }, SummarizerOptions{}, [this] { return now; }};

    ~Fixture() { dispatcher.close_all(); } // nothing left queued (no "events lost" warnings)

    // What a flush of every queue sends: the summaries, then the payloads.
    void flush() {
        hub.flush_summaries();
        dispatcher.flush_all();
    }
};

} // namespace

TEST_CASE("SummaryHub publishes schema 4 and a summary with each flush", "[summary_hub]") {
    Fixture f;
    f.upstream_date = k_now + 61s; // debugging of "tracked" is over by the upstream's clock
    const PublishResult result = f.hub.publish(
        "production", SdkKind::server, PayloadMetadata{2, "application-id/php"}, k_php_post);
    CHECK(result.accepted == 4); // an index event, 2 full feature events, the custom event
    CHECK(f.flag_lookups == std::vector<std::string>{"production"});
    f.flush();
    REQUIRE(f.sink.payloads.size() == 1);
    const Payload& payload = f.sink.payloads[0];
    CHECK(payload.env_name == "production");
    CHECK(payload.sdk == SdkKind::server);
    CHECK(payload.metadata == PayloadMetadata{4, "application-id/php"});
    CHECK(
        payload.body ==
        R"([{"kind":"index","creationDate":1795736416401,"context":{"kind":"user","key":"u1"}},)"
        R"({"kind":"feature","creationDate":1795736416401,"key":"tracked","version":11,"contextKeys":{"user":"u1"},"variation":0,"value":true,"default":false},)"
        R"({"kind":"feature","creationDate":1795736416402,"key":"tracked","version":11,"contextKeys":{"user":"u1"},"variation":0,"value":true,"default":false},)"
        R"({"kind":"custom","creationDate":1795736416403,"key":"metric","contextKeys":{"user":"u1"}},)"
        R"({"kind":"summary","startDate":1795736416401,"endDate":1795736416402,"features":{"tracked":{"default":false,"counters":[{"variation":0,"version":11,"value":true,"count":2}],"contextKinds":["user"]}}}])");

    const SummaryStats stats = f.hub.stats("production");
    CHECK(stats.summarised_input == 3);
    CHECK(stats.summary_events == 1);
    CHECK(stats.index_events == 1);
    CHECK(stats.feature_events == 2);
    CHECK(stats.debug_events == 0);
    CHECK(stats.kept_events == 1);
    CHECK(stats.passed_unchanged == 0);

    SECTION("a flush with nothing counted since sends no summary") {
        f.flush();
        CHECK(f.sink.payloads.size() == 1);
        CHECK(f.hub.stats("production").summary_events == 1);
    }
}

TEST_CASE("SummaryHub: the upstream's Date and the flag data are per call and per environment",
          "[summary_hub]") {
    Fixture f;
    f.hub.publish("production", SdkKind::server, PayloadMetadata{2, ""}, {k_php_post[0]});
    CHECK(f.hub.stats("production").debug_events == 1); // no upstream Date yet: now decides
    f.hub.publish("staging", SdkKind::server, PayloadMetadata{2, ""}, {k_php_post[0]});
    const SummaryStats staging = f.hub.stats("staging");
    CHECK(staging.feature_events == 0); // no flag data for staging: nothing says tracked
    CHECK(staging.debug_events == 0);
    CHECK(staging.index_events == 1);
    CHECK(f.hub.all_stats().size() == 2);
}

TEST_CASE("SummaryHub keeps one summariser per environment, SDK kind and tags", "[summary_hub]") {
    Fixture f;
    f.hub.publish("production", SdkKind::server, PayloadMetadata{2, "application-id/a"},
                  {k_php_post[0]});
    f.hub.publish("production", SdkKind::server, PayloadMetadata{1, "application-id/b"},
                  {k_php_post[0]});
    f.hub.publish("production", SdkKind::mobile, PayloadMetadata{2, "application-id/a"},
                  {k_php_post[0]});
    f.hub.publish("production", SdkKind::server, PayloadMetadata{2, "application-id/a"},
                  {k_php_post[1]});
    CHECK(f.hub.summarizer_count() == 3);
    f.flush();
    REQUIRE(f.sink.payloads.size() == 3);
    for (const Payload& payload : f.sink.payloads) {
        CHECK(payload.metadata.schema_version == 4);
        // Each queue's own index event (its own LRU) and its own summary.
        CHECK(payload.body.find(R"({"kind":"index")") != std::string::npos);
        const bool two =
            payload.metadata.tags == "application-id/a" && payload.sdk == SdkKind::server;
        CHECK(payload.body.find(two ? R"("count":2)" : R"("count":1)") != std::string::npos);
    }
}

TEST_CASE("SummaryHub forgets summarisers idle for the LRU interval", "[summary_hub]") {
    Fixture f;
    f.hub.publish("production", SdkKind::server, PayloadMetadata{2, "application-id/once"},
                  {k_php_post[0]});
    f.hub.publish("production", SdkKind::server, PayloadMetadata{2, ""}, {k_php_post[0]});
    f.flush();
    CHECK(f.hub.summarizer_count() == 2); // just used
    f.now = k_now + 4min;
    f.hub.publish("production", SdkKind::server, PayloadMetadata{2, ""}, {k_php_post[2]});
    f.now = k_now + 5min;
    f.flush(); // "once" idle for 5 min: forgotten; "" was used a minute ago
    CHECK(f.hub.summarizer_count() == 1);
    f.now = k_now + 9min;
    f.flush();
    CHECK(f.hub.summarizer_count() == 0);
    // A new post starts over (a new LRU: its context is indexed again).
    f.hub.publish("production", SdkKind::server, PayloadMetadata{2, ""}, {k_php_post[2]});
    CHECK(f.hub.stats("production").index_events == 3);
}

TEST_CASE("SummaryHub is safe to use from several threads", "[summary_hub]") {
    Fixture f;
    std::atomic<bool> stop{false};
    std::thread flusher([&] {
        while (!stop.load()) {
            f.flush();
        }
    });
    std::vector<std::thread> posters;
    for (int t = 0; t < 3; ++t) {
        posters.emplace_back([&] {
            for (int i = 0; i < 200; ++i) {
                f.hub.publish("production", SdkKind::server, PayloadMetadata{2, ""}, k_php_post);
            }
        });
    }
    for (std::thread& poster : posters) {
        poster.join();
    }
    stop = true;
    flusher.join();
    f.flush();
    // Every evaluation counted exactly once across the summaries sent.
    std::size_t counted = 0;
    for (const Payload& payload : f.sink.payloads) {
        for (std::size_t at = payload.body.find(R"("count":)"); at != std::string::npos;
             at = payload.body.find(R"("count":)", at + 1)) {
            counted += std::stoul(payload.body.substr(at + 8));
        }
    }
    CHECK(counted == 3 * 200 * 2);
    CHECK(f.hub.stats("production").summarised_input == 3 * 200 * 3);
}

TEST_CASE("SummaryHub::flush_summaries may be called from inside publish()", "[summary_hub]") {
    // As a PublisherOptions::on_starved callback or a sink may, on the publishing thread, while
    // the summariser being published for is locked.
    class FlushingSink : public PayloadSink {
      public:
        void submit(Payload payload) override {
            payloads.push_back(std::move(payload));
            if (hub != nullptr && !flushed) {
                flushed = true;
                hub->flush_summaries();
            }
        }
        SummaryHub* hub = nullptr;
        bool flushed = false;
        std::vector<Payload> payloads;
    };
    FlushingSink sink;
    MemoryBudget budget{16u << 20};
    CounterRegistry counters;
    PublisherOptions options;
    options.batch_size = 2; // the second event queued cuts a payload inside publish()
    Dispatcher dispatcher(options, sink, budget, counters);
    SummaryHub hub(dispatcher, nullptr, nullptr, SummarizerOptions{}, [] { return k_now; });

    hub.publish("production", SdkKind::server, PayloadMetadata{2, ""}, {k_php_post[0]});
    sink.hub = &hub;
    const auto started = std::chrono::steady_clock::now();
    hub.publish("production", SdkKind::server, PayloadMetadata{2, ""}, {k_php_post[2]});
    CHECK(sink.flushed);
    // Taken at once (the lock is this thread's own), not after k_flush_lock_wait.
    CHECK(std::chrono::steady_clock::now() - started < SummaryHub::k_flush_lock_wait);
    dispatcher.flush_all();
    REQUIRE(sink.payloads.size() == 2);
    CHECK(sink.payloads[1].body.find(R"({"kind":"summary")") == 1);
    CHECK(hub.stats("production").summary_events == 1);
}
