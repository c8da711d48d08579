#include "tests/support/file_size_limit.hpp"
#include "tests/support/scratch_dir.hpp"

#include "core/spool/spool_delivery.hpp"
#include "core/spool/spool_writer.hpp"
#include "core/spool/spooling_listener.hpp"
#include "core/upstream/sender_split.hpp"
#include "core/util/gzip.hpp"
#include "core/util/uuid.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <sys/resource.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace evrelay;
namespace fs = std::filesystem;

namespace {

using namespace std::chrono_literals;

// Silences the default logger for a test (delivery warns about what the tests provoke).
class QuietLog {
  public:
    QuietLog() : m_previous(spdlog::default_logger()) {
        spdlog::set_default_logger(std::make_shared<spdlog::logger>(
            "spool-delivery-test", std::make_shared<spdlog::sinks::null_sink_mt>()));
    }
    ~QuietLog() { spdlog::set_default_logger(m_previous); }
    QuietLog(const QuietLog&) = delete;
    QuietLog& operator=(const QuietLog&) = delete;

  private:
    std::shared_ptr<spdlog::logger> m_previous;
};

// Captures log lines while alive (inside a Harness: it replaces QuietLog's logger) and restores
// the previous default logger afterwards.
class LogCapture {
  public:
    LogCapture() : m_sink(std::make_shared<Sink>()), m_previous(spdlog::default_logger()) {
        auto logger = std::make_shared<spdlog::logger>("spool-delivery-capture", m_sink);
        logger->set_level(spdlog::level::debug);
        spdlog::set_default_logger(logger);
    }
    ~LogCapture() { spdlog::set_default_logger(m_previous); }
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;

    std::vector<std::string> lines() const { return m_sink->lines(); }

  private:
    class Sink : public spdlog::sinks::base_sink<std::mutex> {
      public:
        std::vector<std::string> lines() {
            std::lock_guard lock(mutex_);
            return m_lines;
        }

      protected:
        void sink_it_(const spdlog::details::log_msg& msg) override {
            m_lines.emplace_back(msg.payload.data(), msg.payload.size());
        }
        void flush_() override {}

      private:
        std::vector<std::string> m_lines;
    };
    std::shared_ptr<Sink> m_sink;
    std::shared_ptr<spdlog::logger> m_previous;
};

// What the fake upstream does with a payload (or a piece of one).
enum class Answer {
    deliver,
    retries_exhausted,
    rejected,
    no_credential,
    too_large,
    shutdown,
    split
};

// A payload as the sink saw it.
struct Sent {
    std::string id;
    std::string env_name;
    SdkKind sdk = SdkKind::server;
    DataKind data = DataKind::analytics;
    PayloadMetadata metadata;
    std::string body;
    std::size_t event_count = 0;
    std::uint64_t origin = 0;
    std::chrono::system_clock::time_point created{};
};

Payload copy_of(const Payload& whole, std::string body, std::size_t events) {
    Payload piece;
    piece.id = whole.id;
    piece.env_name = whole.env_name;
    piece.sdk = whole.sdk;
    piece.data = whole.data;
    piece.metadata = whole.metadata;
    piece.body = std::move(body);
    piece.event_count = events;
    piece.created = whole.created;
    piece.origin = whole.origin;
    return piece;
}

// A sink standing in for the sender: it records each payload and reports its outcome to a
// DeliveryListener from another thread, as the sender does. Synchronous mode waits for the
// report before submit() returns (deterministic sequences of outcomes); asynchronous mode queues
// the payload for a worker thread.
class FakeUpstream : public PayloadSink {
  public:
    using Policy = std::function<Answer(const Sent&)>;

    explicit FakeUpstream(DeliveryListener& listener) : m_listener(listener) {}
    ~FakeUpstream() override { stop(); }

    Policy policy = [](const Sent&) { return Answer::deliver; };
    // For Answer::split: what happens to each half, and a hook run between the two reports.
    std::pair<Answer, Answer> piece_answers{Answer::deliver, Answer::deliver};
    std::function<void()> between_pieces;
    // Called inside submit(), before the outcome is reported.
    std::function<void(const Sent&)> on_submit;
    bool asynchronous = false;
    bool hold = false; // keep payloads without reporting them (release_held() reports them)

    void submit(Payload payload) override {
        Sent sent;
        sent.id = payload.id;
        sent.env_name = payload.env_name;
        sent.sdk = payload.sdk;
        sent.data = payload.data;
        sent.metadata = payload.metadata;
        sent.body = payload.body;
        sent.event_count = payload.event_count;
        sent.origin = payload.origin;
        sent.created = payload.created;
        {
            std::lock_guard lock(m_mutex);
            m_sent.push_back(sent);
        }
        if (on_submit) {
            on_submit(sent);
        }
        const Answer answer = policy(sent);
        if (hold) {
            std::lock_guard lock(m_mutex);
            m_held.emplace_back(std::move(payload), answer);
            return;
        }
        if (asynchronous) {
            {
                std::lock_guard lock(m_mutex);
                m_queue.emplace_back(std::move(payload), answer);
                if (!m_worker.joinable()) {
                    m_worker = std::thread([this] { work(); });
                }
            }
            m_wake.notify_all();
            return;
        }
        std::thread reporter([&] { report(std::move(payload), answer); });
        reporter.join();
    }

    // Reports every held payload now (from another thread).
    void release_held() {
        std::vector<std::pair<Payload, Answer>> held;
        {
            std::lock_guard lock(m_mutex);
            held = std::move(m_held);
            m_held.clear();
        }
        std::thread reporter([&] {
            for (auto& [payload, answer] : held) {
                report(std::move(payload), answer);
            }
        });
        reporter.join();
    }

    // Waits until the worker has reported everything queued (it has left the listener).
    void wait_idle() {
        std::unique_lock lock(m_mutex);
        m_wake.wait(lock, [this] { return m_queue.empty() && !m_busy; });
    }

    void stop() {
        {
            std::lock_guard lock(m_mutex);
            m_stopping = true;
        }
        m_wake.notify_all();
        if (m_worker.joinable()) {
            m_worker.join();
        }
    }

    std::vector<Sent> sent() const {
        std::lock_guard lock(m_mutex);
        return m_sent;
    }
    std::vector<std::string> sent_ids() const {
        std::vector<std::string> ids;
        for (const auto& sent : sent()) {
            ids.push_back(sent.id);
        }
        return ids;
    }
    void clear() {
        std::lock_guard lock(m_mutex);
        m_sent.clear();
    }

  private:
    void work() {
        std::unique_lock lock(m_mutex);
        while (true) {
            m_wake.wait(lock, [this] { return m_stopping || !m_queue.empty(); });
            if (m_queue.empty()) {
                return;
            }
            auto [payload, answer] = std::move(m_queue.front());
            m_queue.pop_front();
            m_busy = true;
            lock.unlock();
            report(std::move(payload), answer);
            lock.lock();
            m_busy = false;
            m_wake.notify_all();
        }
    }

    void report(Payload payload, Answer answer) {
        switch (answer) {
        case Answer::deliver:
            m_listener.on_delivered(payload, 202);
            return;
        case Answer::retries_exhausted:
            m_listener.on_undeliverable(std::move(payload), Undeliverable::retries_exhausted, 503);
            return;
        case Answer::rejected:
            m_listener.on_undeliverable(std::move(payload), Undeliverable::rejected, 401);
            return;
        case Answer::no_credential:
            m_listener.on_undeliverable(std::move(payload), Undeliverable::no_credential, 0);
            return;
        case Answer::too_large:
            m_listener.on_undeliverable(std::move(payload), Undeliverable::too_large, 413);
            return;
        case Answer::shutdown:
            m_listener.on_undeliverable(std::move(payload), Undeliverable::shutdown, 0);
            return;
        case Answer::split: {
            // The sender's 413 handling: two halves carrying the whole's origin tag.
            auto halves = split_array_in_halves(payload.body);
            REQUIRE(halves);
            report(copy_of(payload, halves->first, halves->first_events), piece_answers.first);
            if (between_pieces) {
                between_pieces();
            }
            report(copy_of(payload, halves->second, halves->second_events), piece_answers.second);
            return;
        }
        }
    }

    DeliveryListener& m_listener;
    mutable std::mutex m_mutex;
    std::condition_variable m_wake;
    std::vector<Sent> m_sent;
    std::deque<std::pair<Payload, Answer>> m_queue;
    std::vector<std::pair<Payload, Answer>> m_held;
    bool m_stopping = false;
    bool m_busy = false;
    std::thread m_worker;
};

// The DeliveryLedger's place behind the SpoolingListener: records what reaches it.
class RecordingListener : public DeliveryListener {
  public:
    void on_delivered(const Payload& payload, long) override {
        std::lock_guard lock(m_mutex);
        delivered.push_back(payload.id);
    }
    void on_undeliverable(Payload payload, Undeliverable reason, long) override {
        std::lock_guard lock(m_mutex);
        undeliverable.emplace_back(payload.id, reason);
    }
    std::size_t delivered_count() {
        std::lock_guard lock(m_mutex);
        return delivered.size();
    }
    std::size_t undeliverable_count() {
        std::lock_guard lock(m_mutex);
        return undeliverable.size();
    }

    std::mutex m_mutex;
    std::vector<std::string> delivered;
    std::vector<std::pair<std::string, Undeliverable>> undeliverable;
};

const auto k_now =
    std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());

std::string events_of(const std::string& id, int count = 1) {
    std::string body = "[";
    for (int i = 0; i < count; ++i) {
        if (i > 0) {
            body += ",";
        }
        body += R"({"kind":"custom","key":")" + id + "-" + std::to_string(i) + R"("})";
    }
    return body + "]";
}

// One capture line of a payload with ID `id` (and events naming it).
std::string line_of(const std::string& id, int events = 1,
                    std::chrono::system_clock::time_point received = k_now,
                    const std::string& env = "production") {
    const std::string body = events_of(id, events);
    CaptureRecord record;
    record.received = received;
    record.env_name = env;
    record.sdk = SdkKind::server;
    record.kind = DataKind::analytics;
    record.metadata = PayloadMetadata{4, "application-id/test"};
    record.payload_id = id;
    record.events_json = body;
    std::string line;
    append_capture_line(line, record);
    return line;
}

// "20260101T0000<n>.000000Z-1-<n>.seg": segment names that sort by n.
std::string segment_name(int n, const char* suffix = ".seg") {
    return fmt::format("20260101T0000{:02}.000000Z-1-{:06}{}", n, n, suffix);
}

using FileMap = std::map<std::string, std::string>;

// Every file under `root` (relative path → content; directories as "<dir>").
FileMap snapshot(const fs::path& root) {
    FileMap files;
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
        const std::string relative = fs::relative(entry.path(), root).string();
        files[relative] = entry.is_directory() ? "<dir>" : test::read_file(entry.path());
    }
    return files;
}

std::vector<std::string> regular_files(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.is_regular_file()) {
            names.push_back(entry.path().filename().string());
        }
    }
    std::sort(names.begin(), names.end());
    return names;
}

// A spool, a fake upstream behind a SpoolingListener, and SpoolDelivery passes over them.
struct Harness {
    QuietLog quiet;
    test::ScratchDir scratch;
    SpoolDirectory spool = open_spool(scratch);
    RecordingListener next;
    CounterRegistry counters;
    SpoolingListener listener{next, counters, nullptr};
    FakeUpstream upstream{listener};
    std::vector<InputProblem> problems;
    std::vector<std::unique_ptr<SpoolDeliveryStats>> all_stats;
    std::unique_ptr<SpoolDelivery> delivery;

    ~Harness() {
        upstream.stop(); // no outcome reaches the delivery while it is destroyed
    }

    static SpoolDirectory open_spool(const test::ScratchDir& scratch) {
        auto spool = SpoolDirectory::open(scratch / "spool");
        REQUIRE(spool);
        return *spool;
    }

    const fs::path& root() const { return spool.root(); }

    fs::path write_segment(const std::string& name, const std::string& content) const {
        return scratch.write("spool/" + name, content);
    }
    fs::path write_incoming(const std::string& name, const std::string& content) const {
        return scratch.write("spool/incoming/" + name, content);
    }

    SpoolDelivery& make_delivery(SpoolDeliveryOptions options) {
        delivery = std::make_unique<SpoolDelivery>(
            spool, upstream, std::move(options),
            [this](const InputProblem& problem) { problems.push_back(problem); });
        listener.set_delivery(delivery.get());
        return *delivery;
    }

    // One pass of a new SpoolDelivery (a new flush), or of the current one when `reuse`.
    SpoolDeliveryStats& pass(SpoolDeliveryOptions options = {}, bool reuse = false) {
        if (!reuse || !delivery) {
            make_delivery(std::move(options));
        }
        all_stats.push_back(std::make_unique<SpoolDeliveryStats>());
        delivery->run(*all_stats.back());
        upstream.wait_idle();
        return *all_stats.back();
    }

    std::string done_file(const std::string& segment) const {
        const fs::path path = SpoolDirectory::progress_path(root() / segment);
        return fs::exists(path) ? test::read_file(path) : std::string("<none>");
    }
};

} // namespace

TEST_CASE("SpoolDelivery: every line is delivered, oldest segment first", "[spool]") {
    Harness h;
    const bool asynchronous = GENERATE(false, true);
    CAPTURE(asynchronous);
    h.upstream.asynchronous = asynchronous;

    // Written newest first: the order comes from the names.
    h.write_segment(segment_name(3, ".open"), line_of("e")); // left open by a writer that died
    h.write_segment(segment_name(2), line_of("c", 3) + line_of("d"));
    h.write_segment(segment_name(1), line_of("a") + line_of("b", 2));

    SpoolDeliveryStats& stats = h.pass();

    CHECK(h.upstream.sent_ids() == std::vector<std::string>{"a", "b", "c", "d", "e"});
    std::set<std::uint64_t> origins;
    for (const Sent& sent : h.upstream.sent()) {
        INFO(sent.id);
        CHECK(sent.body == events_of(sent.id, sent.event_count));
        CHECK(sent.env_name == "production");
        CHECK(sent.sdk == SdkKind::server);
        CHECK(sent.data == DataKind::analytics);
        CHECK(sent.metadata == PayloadMetadata{4, "application-id/test"});
        CHECK(sent.created == k_now);
        CHECK(sent.origin != 0);
        origins.insert(sent.origin);
    }
    CHECK(origins.size() == 5);
    CHECK(h.upstream.sent()[2].event_count == 3);

    // Everything delivered: segments and progress files are gone.
    CHECK(regular_files(h.root()).empty());
    CHECK(regular_files(h.spool.bad_dir()).empty());
    CHECK(stats.payloads_read.load() == 5);
    CHECK(stats.events_read.load() == 8);
    CHECK(stats.payloads_delivered.load() == 5);
    CHECK(stats.events_delivered.load() == 8);
    CHECK(stats.payloads_kept.load() == 0);
    CHECK(stats.segments_removed.load() == 3);
    CHECK(stats.malformed.load() == 0);
    CHECK(stats.torn_lines.load() == 0);
    CHECK_FALSE(stats.upstream_unavailable.load());
    CHECK_FALSE(stats.io_failed.load());
    CHECK(stats.bytes_total.load() > 0);
    CHECK(stats.bytes_read.load() == stats.bytes_total.load());
    CHECK_FALSE(h.delivery->first_rejection());
    CHECK(h.problems.empty());
    // The SpoolingListener passes deliveries on to the ledger.
    CHECK(h.next.delivered_count() == 5);

    // A second pass finds nothing to do.
    h.upstream.clear();
    SpoolDeliveryStats& again = h.pass();
    CHECK(h.upstream.sent().empty());
    CHECK(again.payloads_read.load() == 0);
}

TEST_CASE("SpoolDelivery: what a line says and what the options override", "[spool]") {
    Harness h;

    SECTION("a target environment overrides the recorded one") {
        h.write_segment(segment_name(1), line_of("a", 1, k_now, "staging"));
        SpoolDeliveryOptions options;
        options.target.env_name = "forced";
        h.pass(options);
        REQUIRE(h.upstream.sent().size() == 1);
        CHECK(h.upstream.sent()[0].env_name == "forced");
        CHECK(h.upstream.sent()[0].id == "a");
    }

    SECTION("a line without a payload ID gets a new one; a diagnostic line gets none") {
        std::string content;
        CaptureRecord record;
        record.received = k_now;
        record.env_name = "production";
        record.metadata = PayloadMetadata{4, ""};
        const std::string analytics = R"([{"kind":"custom","key":"x"}])";
        record.events_json = analytics;
        append_capture_line(content, record);
        const std::string diagnostic = R"({"kind":"diagnostic","id":{"diagnosticId":"d"}})";
        record.kind = DataKind::diagnostic;
        record.events_json = diagnostic;
        append_capture_line(content, record);
        h.write_segment(segment_name(1), content);

        SpoolDeliveryStats& stats = h.pass();
        const auto sent = h.upstream.sent();
        REQUIRE(sent.size() == 2);
        CHECK(util::is_uuid(sent[0].id));
        CHECK(sent[0].body == analytics);
        CHECK(sent[1].id.empty());
        CHECK(sent[1].data == DataKind::diagnostic);
        CHECK(sent[1].body == diagnostic);
        CHECK(stats.payloads_delivered.load() == 2);
        CHECK(regular_files(h.root()).empty());
    }

    SECTION("a recorded empty post is nothing to send, and the segment is removed") {
        std::string content = line_of("a");
        CaptureRecord record;
        record.received = k_now;
        record.env_name = "production";
        record.payload_id = "empty";
        record.events_json = "[]";
        append_capture_line(content, record);
        content += line_of("b");
        h.write_segment(segment_name(1), content);
        SpoolDeliveryStats& stats = h.pass();
        CHECK(h.upstream.sent_ids() == std::vector<std::string>{"a", "b"});
        CHECK(stats.malformed.load() == 0);
        CHECK(regular_files(h.root()).empty());
    }

    SECTION("a segment a live writer holds is left alone") {
        SpoolWriter writer(h.spool, SpoolWriterOptions{});
        CaptureRecord record;
        record.received = k_now;
        record.env_name = "production";
        record.payload_id = "being-written";
        const std::string body = events_of("being-written");
        record.events_json = body;
        REQUIRE(writer.append(record));
        h.write_segment(segment_name(1), line_of("a"));

        h.pass();
        CHECK(h.upstream.sent_ids() == std::vector<std::string>{"a"});
        CHECK(h.spool.open_segment_count() == 1);

        writer.close();
        h.upstream.clear();
        h.pass();
        CHECK(h.upstream.sent_ids() == std::vector<std::string>{"being-written"});
        CHECK(regular_files(h.root()).empty());
    }
}

TEST_CASE("SpoolDelivery: an unavailable upstream stops the pass", "[spool]") {
    Harness h;
    const std::string first = segment_name(1);
    const std::string second = segment_name(2);
    h.write_segment(first, line_of("a") + line_of("b") + line_of("c", 2) + line_of("d"));
    const fs::path second_path = h.write_segment(second, line_of("e") + line_of("f"));
    const std::string second_content = test::read_file(second_path);

    h.upstream.policy = [](const Sent& sent) {
        return sent.id == "c" ? Answer::retries_exhausted : Answer::deliver;
    };
    SpoolDeliveryStats& stats = h.pass();

    CHECK(h.upstream.sent_ids() == std::vector<std::string>{"a", "b", "c"});
    CHECK(stats.upstream_unavailable.load());
    CHECK(stats.payloads_delivered.load() == 2);
    CHECK(stats.payloads_kept.load() == 1);
    CHECK(stats.events_kept.load() == 2);
    CHECK(stats.segments_removed.load() == 0);
    // The first segment stays with its progress; the second is untouched.
    CHECK(fs::exists(h.root() / first));
    CHECK(h.done_file(first) == "1\n2\n");
    CHECK(test::read_file(second_path) == second_content);
    CHECK(h.done_file(second) == "<none>");
    // Spool lines that failed are not the ledger's to count as dropped.
    CHECK(h.next.undeliverable_count() == 0);
    CHECK_FALSE(h.delivery->first_rejection());

    h.upstream.clear();
    h.upstream.policy = [](const Sent&) { return Answer::deliver; };
    const bool same_delivery = GENERATE(false, true);
    CAPTURE(same_delivery);
    SpoolDeliveryStats& retry = h.pass({}, same_delivery);

    // Exactly the lines not delivered yet, with their recorded payload IDs.
    CHECK(h.upstream.sent_ids() == std::vector<std::string>{"c", "d", "e", "f"});
    CHECK(h.upstream.sent()[0].body == events_of("c", 2));
    CHECK_FALSE(retry.upstream_unavailable.load());
    CHECK(retry.payloads_read.load() == 4);
    CHECK(retry.payloads_delivered.load() == 4);
    CHECK(retry.segments_removed.load() == 2);
    CHECK(regular_files(h.root()).empty());
}

TEST_CASE("SpoolDelivery: batch_progress writes the records when the sink says", "[spool]") {
    Harness h;
    const std::string name = segment_name(1);
    h.write_segment(name, line_of("a") + line_of("b") + line_of("c") + line_of("d"));
    SpoolDeliveryOptions options;
    options.batch_progress = true;

    SECTION("after each run of outcomes") {
        std::vector<std::string> seen; // the record file when c, then d, is submitted
        h.upstream.on_submit = [&](const Sent& sent) {
            if (sent.id == "c") {
                seen.push_back(h.done_file(name)); // a and b delivered, not written yet
                h.listener.on_outcomes_reported();
                seen.push_back(h.done_file(name));
            }
        };
        h.upstream.policy = [](const Sent& sent) {
            return sent.id == "d" ? Answer::retries_exhausted : Answer::deliver;
        };
        SpoolDeliveryStats& stats = h.pass(options);
        CHECK(seen == std::vector<std::string>{"", "1\n2\n"});
        CHECK(stats.payloads_delivered.load() == 3);
        // The kept segment gets the records still held back (c) when it is finished.
        CHECK(fs::exists(h.root() / name));
        CHECK(h.done_file(name) == "1\n2\n3\n");
    }

    SECTION("a segment delivered in full is removed with its record") {
        SpoolDeliveryStats& stats = h.pass(options);
        CHECK(stats.segments_removed.load() == 1);
        CHECK(regular_files(h.root()).empty());
    }
}

TEST_CASE("SpoolDelivery: a failure in the last segment keeps only that segment", "[spool]") {
    Harness h;
    h.write_segment(segment_name(1), line_of("a"));
    h.write_segment(segment_name(2), line_of("b") + line_of("c"));
    h.upstream.policy = [](const Sent& sent) {
        return sent.id == "c" ? Answer::shutdown : Answer::deliver;
    };
    SpoolDeliveryStats& stats = h.pass();
    CHECK(h.upstream.sent_ids() == std::vector<std::string>{"a", "b", "c"});
    // A shutdown is no sign of an unavailable upstream.
    CHECK_FALSE(stats.upstream_unavailable.load());
    CHECK(stats.segments_removed.load() == 1);
    CHECK(regular_files(h.root()) ==
          std::vector<std::string>{segment_name(2), segment_name(2) + ".done"});
    CHECK(h.done_file(segment_name(2)) == "1\n");
}

TEST_CASE("SpoolDelivery: malformed lines", "[spool]") {
    Harness h;
    const std::string name = segment_name(1);
    const std::string bad_line = GENERATE(std::string("this is not json\n"),
                                          std::string("{\"v\":1,\"env\":\"production\"}\n"),
                                          std::string("{\"v\":99,\"events\":[]}\n"));
    CAPTURE(bad_line);
    const std::string content = line_of("a") + bad_line + line_of("b");
    h.write_segment(name, content);

    SECTION("are copied to bad/, counted, and the other lines delivered") {
        SpoolDeliveryStats& stats = h.pass();
        CHECK(h.upstream.sent_ids() == std::vector<std::string>{"a", "b"});
        CHECK(stats.malformed.load() == 1);
        CHECK(stats.torn_lines.load() == 0);
        CHECK(stats.payloads_delivered.load() == 2);
        REQUIRE(h.problems.size() == 1);
        CHECK(h.problems[0].line == 2);
        CHECK_FALSE(h.problems[0].truncated_last_line);
        // The segment is removed: its copy in bad/ keeps the malformed line.
        CHECK(regular_files(h.root()).empty());
        CHECK(stats.segments_removed.load() == 1);
        REQUIRE(regular_files(h.spool.bad_dir()) == std::vector<std::string>{name});
        CHECK(test::read_file(h.spool.bad_dir() / name) == content);
    }

    SECTION("are reported once, even when the segment needs a second pass") {
        h.upstream.policy = [](const Sent& sent) {
            return sent.id == "b" ? Answer::retries_exhausted : Answer::deliver;
        };
        SpoolDeliveryStats& first = h.pass();
        CHECK(first.malformed.load() == 1);
        CHECK(fs::exists(h.root() / name));
        CHECK(h.done_file(name) == "1\n2\n");
        CHECK(fs::exists(h.spool.bad_dir() / name));

        h.upstream.clear();
        h.problems.clear();
        h.upstream.policy = [](const Sent&) { return Answer::deliver; };
        SpoolDeliveryStats& second = h.pass();
        CHECK(h.upstream.sent_ids() == std::vector<std::string>{"b"});
        CHECK(second.malformed.load() == 0);
        CHECK(h.problems.empty());
        CHECK(regular_files(h.root()).empty());
        CHECK(test::read_file(h.spool.bad_dir() / name) == content);
    }
}

TEST_CASE("SpoolDelivery: a torn last line is skipped, not malformed", "[spool]") {
    Harness h;
    const char* suffix = GENERATE(".seg", ".open");
    CAPTURE(suffix);
    const std::string name = segment_name(1, suffix);
    std::string torn = line_of("torn");
    torn.resize(torn.size() / 2); // a writer died mid-line
    h.write_segment(name, line_of("a") + line_of("b") + torn);

    SpoolDeliveryStats& stats = h.pass();
    CHECK(h.upstream.sent_ids() == std::vector<std::string>{"a", "b"});
    CHECK(stats.torn_lines.load() == 1);
    CHECK(stats.malformed.load() == 0);
    CHECK(h.problems.empty());
    CHECK(regular_files(h.spool.bad_dir()).empty());
    CHECK(regular_files(h.root()).empty());
    CHECK(stats.segments_removed.load() == 1);
}

TEST_CASE("SpoolDelivery: log lines start with the caller's command", "[spool]") {
    Harness h;
    LogCapture log;
    const std::string command = GENERATE(std::string("serve"), std::string("flush"));
    CAPTURE(command);
    // What a pass reports: a segment left open (delivery), its torn last line (the segment's
    // reading), malformed data in an incoming/ file (the ingest).
    std::string torn = line_of("torn");
    torn.resize(torn.size() / 2);
    h.write_segment(segment_name(1, ".open"), line_of("a") + torn);
    h.write_incoming("events.ndjson", R"({"kind":"custom","key":"n1"})"
                                      "\nnot json\n");
    SpoolDeliveryOptions options;
    options.command = command;
    SpoolDeliveryStats& stats = h.pass(options);
    CHECK(stats.torn_lines.load() == 1);
    CHECK(stats.files_ingested.load() == 1);

    const std::vector<std::string> lines = log.lines();
    std::string all;
    for (const std::string& line : lines) {
        all += line + "\n";
    }
    INFO(all);
    const auto logged = [&](const std::string& needle) {
        return std::any_of(lines.begin(), lines.end(), [&](const std::string& line) {
            return line.rfind(command + ": ", 0) == 0 && line.find(needle) != std::string::npos;
        });
    };
    CHECK(logged("was left open by a writer that stopped"));
    CHECK(logged("torn last line"));
    CHECK(logged("holds malformed data"));
    for (const std::string& line : lines) {
        CHECK(line.rfind(command + ": ", 0) == 0);
    }
}

TEST_CASE("SpoolDelivery: --max-age drops old lines", "[spool]") {
    Harness h;
    const auto old = k_now - std::chrono::hours(2);
    h.write_segment(segment_name(1), line_of("old", 3, old) + line_of("fresh", 1) +
                                         line_of("older", 1, old - std::chrono::hours(1)));
    SpoolDeliveryOptions options;
    options.max_age = std::chrono::hours(1);
    SpoolDeliveryStats& stats = h.pass(options);

    CHECK(h.upstream.sent_ids() == std::vector<std::string>{"fresh"});
    CHECK(stats.payloads_expired.load() == 2);
    CHECK(stats.events_expired.load() == 4);
    CHECK(stats.payloads_delivered.load() == 1);
    CHECK(stats.payloads_read.load() == 3);
    CHECK(regular_files(h.root()).empty());
}

TEST_CASE("SpoolDelivery: expired lines are recorded as done in a kept segment", "[spool]") {
    Harness h;
    const auto old = k_now - std::chrono::hours(2);
    const std::string name = segment_name(1);
    h.write_segment(name, line_of("old", 1, old) + line_of("fresh"));
    h.upstream.policy = [](const Sent&) { return Answer::retries_exhausted; };
    SpoolDeliveryOptions options;
    options.max_age = std::chrono::hours(1);
    SpoolDeliveryStats& first = h.pass(options);
    CHECK(first.payloads_expired.load() == 1);
    CHECK(h.done_file(name) == "1\n");

    h.upstream.clear();
    h.upstream.policy = [](const Sent&) { return Answer::deliver; };
    SpoolDeliveryStats& second = h.pass(options);
    CHECK(second.payloads_expired.load() == 0);
    CHECK(h.upstream.sent_ids() == std::vector<std::string>{"fresh"});
    CHECK(regular_files(h.root()).empty());
}

TEST_CASE("SpoolDelivery: incoming/ files", "[spool]") {
    Harness h;
    const std::string e1 = R"({"kind":"custom","key":"n1"})";
    const std::string e2 = R"({"kind":"custom","key":"n2"})";
    const std::string e3 = R"({"kind":"identify","key":"n3"})";

    SECTION("an NDJSON file becomes payloads with new IDs, and is removed") {
        h.write_incoming("events.ndjson", e1 + "\n" + e2 + "\n" + e3 + "\n");
        SpoolDeliveryOptions options;
        options.target.sdk = SdkKind::mobile;
        options.target.metadata = PayloadMetadata{4, "application-id/cron"};
        SpoolDeliveryStats& stats = h.pass(options);

        const auto sent = h.upstream.sent();
        REQUIRE(sent.size() == 1);
        CHECK(util::is_uuid(sent[0].id));
        CHECK(sent[0].body == "[" + e1 + "," + e2 + "," + e3 + "]");
        CHECK(sent[0].event_count == 3);
        CHECK(sent[0].env_name == "default");
        CHECK(sent[0].sdk == SdkKind::mobile);
        CHECK(sent[0].metadata == PayloadMetadata{4, "application-id/cron"});
        CHECK(sent[0].origin != 0); // delivered from its own segment
        CHECK(stats.files_ingested.load() == 1);
        CHECK(stats.payloads_delivered.load() == 1);
        CHECK(regular_files(h.spool.incoming_dir()).empty());
        CHECK(regular_files(h.root()).empty());
    }

    SECTION("max_events_per_payload cuts an NDJSON file into several payloads") {
        h.write_incoming("events.ndjson", e1 + "\n" + e2 + "\n" + e3 + "\n");
        SpoolDeliveryOptions options;
        options.max_events_per_payload = 2;
        options.target.env_name = "staging";
        h.pass(options);
        const auto sent = h.upstream.sent();
        REQUIRE(sent.size() == 2);
        CHECK(sent[0].body == "[" + e1 + "," + e2 + "]");
        CHECK(sent[1].body == "[" + e3 + "]");
        CHECK(sent[0].id != sent[1].id);
        CHECK(util::is_uuid(sent[1].id));
        CHECK(sent[1].env_name == "staging");
    }

    SECTION("a capture file keeps its payload IDs and environments") {
        h.write_incoming("capture.ndjson",
                         line_of("x", 2, k_now, "staging") + line_of("y", 1, k_now, "qa"));
        SpoolDeliveryStats& stats = h.pass();
        const auto sent = h.upstream.sent();
        REQUIRE(sent.size() == 2);
        CHECK(sent[0].id == "x");
        CHECK(sent[0].env_name == "staging");
        CHECK(sent[0].body == events_of("x", 2));
        CHECK(sent[0].created == k_now);
        CHECK(sent[1].id == "y");
        CHECK(sent[1].env_name == "qa");
        CHECK(stats.files_ingested.load() == 1);
        CHECK(regular_files(h.spool.incoming_dir()).empty());
        CHECK(regular_files(h.root()).empty());
    }

    SECTION("ingested payloads keep their new IDs when they must be sent again") {
        h.write_incoming("events.ndjson", e1 + "\n" + e2 + "\n");
        h.upstream.policy = [](const Sent&) { return Answer::retries_exhausted; };
        SpoolDeliveryStats& first = h.pass();
        CHECK(first.upstream_unavailable.load());
        REQUIRE(h.upstream.sent().size() == 1);
        const std::string id = h.upstream.sent()[0].id;
        // The file is now a segment of the spool; incoming/ is empty.
        CHECK(regular_files(h.spool.incoming_dir()).empty());
        CHECK(h.spool.closed_segments().size() == 1);

        h.upstream.clear();
        h.upstream.policy = [](const Sent&) { return Answer::deliver; };
        h.pass();
        CHECK(h.upstream.sent_ids() == std::vector<std::string>{id});
        CHECK(regular_files(h.root()).empty());
    }

    SECTION("incoming files are ingested oldest first and delivered after older segments") {
        h.write_segment(segment_name(1), line_of("spooled"));
        const auto base = fs::file_time_type::clock::now() - std::chrono::minutes(10);
        fs::last_write_time(h.write_incoming("b.ndjson", e2 + "\n"), base);
        fs::last_write_time(h.write_incoming("a.ndjson", e1 + "\n"), base + 1min);
        h.write_incoming(".c.ndjson", e3 + "\n"); // still being written
        SpoolDeliveryStats& stats = h.pass();
        const auto sent = h.upstream.sent();
        REQUIRE(sent.size() == 3);
        CHECK(sent[0].id == "spooled");
        CHECK(sent[1].body == "[" + e2 + "]");
        CHECK(sent[2].body == "[" + e1 + "]");
        CHECK(stats.files_ingested.load() == 2);
        CHECK(regular_files(h.spool.incoming_dir()) == std::vector<std::string>{".c.ndjson"});
    }

    SECTION("a file with malformed data is moved to bad/; its valid events are delivered") {
        h.write_incoming("mixed.ndjson", e1 + "\n{not json\n" + e2 + "\n");
        SpoolDeliveryStats& stats = h.pass();
        CHECK(stats.malformed.load() == 1);
        REQUIRE(h.problems.size() == 1);
        CHECK(h.problems[0].line == 2);
        std::string delivered;
        for (const Sent& sent : h.upstream.sent()) {
            delivered += sent.body;
        }
        CHECK(delivered.find(R"("n1")") != std::string::npos);
        CHECK(delivered.find(R"("n2")") != std::string::npos);
        CHECK(regular_files(h.spool.incoming_dir()).empty());
        CHECK(regular_files(h.spool.bad_dir()) == std::vector<std::string>{"mixed.ndjson"});
        CHECK(regular_files(h.root()).empty());
    }
}

TEST_CASE("SpoolDelivery: a 413 split completes the line when both pieces end", "[spool]") {
    Harness h;
    const std::string name = segment_name(1);
    h.write_segment(name, line_of("a", 4) + line_of("b"));
    h.upstream.policy = [](const Sent& sent) {
        return sent.id == "a" ? Answer::split : Answer::deliver;
    };
    std::vector<std::string> between;
    h.upstream.between_pieces = [&] { between.push_back(h.done_file(name)); };

    SECTION("both pieces delivered") {
        SpoolDeliveryStats& stats = h.pass();
        // After the first piece the line was not recorded as delivered.
        CHECK(between == std::vector<std::string>{""});
        CHECK(h.upstream.sent_ids() == std::vector<std::string>{"a", "b"});
        CHECK(stats.payloads_delivered.load() == 2);
        CHECK(stats.events_delivered.load() == 5);
        CHECK(stats.payloads_kept.load() == 0);
        CHECK(regular_files(h.root()).empty());
    }

    SECTION("the second piece failed: the line stays") {
        h.upstream.piece_answers = {Answer::deliver, Answer::retries_exhausted};
        SpoolDeliveryStats& stats = h.pass();
        CHECK(stats.payloads_kept.load() == 1);
        CHECK(stats.events_kept.load() == 4);
        CHECK(stats.payloads_delivered.load() == 0);
        CHECK(stats.upstream_unavailable.load());
        CHECK(fs::exists(h.root() / name));
        CHECK(h.done_file(name).empty());
        // The upstream was unavailable: "b" was never sent.
        CHECK(h.upstream.sent_ids() == std::vector<std::string>{"a"});
    }

    SECTION("the first piece failed, the second was delivered: the line stays") {
        h.upstream.piece_answers = {Answer::rejected, Answer::deliver};
        SpoolDeliveryStats& stats = h.pass();
        CHECK(stats.payloads_kept.load() == 1);
        CHECK(stats.payloads_delivered.load() == 1); // "b"
        CHECK(fs::exists(h.root() / name));
        CHECK(h.done_file(name) == "2\n");
        CHECK(h.delivery->first_rejection());
    }
}

TEST_CASE("SpoolDelivery: a single event refused as too large is dropped", "[spool]") {
    Harness h;
    const std::string name = segment_name(1);
    h.write_segment(name, line_of("a", 2));
    h.upstream.policy = [](const Sent&) { return Answer::split; };
    h.upstream.piece_answers = {Answer::deliver, Answer::too_large};
    SpoolDeliveryStats& stats = h.pass();
    CHECK(stats.events_too_large.load() == 1);
    CHECK(stats.payloads_kept.load() == 0);
    // The line completes: nothing of it can ever be delivered any more.
    CHECK(regular_files(h.root()).empty());
    CHECK(stats.segments_removed.load() == 1);
}

// The event the upstream refused is counted as too large; it must not also be counted as
// delivered (flush prints "N events delivered" and "dropped K too large" side by side).
TEST_CASE("SpoolDelivery: too-large events are not counted as delivered", "[spool]") {
    Harness h;
    h.write_segment(segment_name(1), line_of("a", 2));
    h.upstream.policy = [](const Sent&) { return Answer::split; };
    h.upstream.piece_answers = {Answer::deliver, Answer::too_large};
    SpoolDeliveryStats& stats = h.pass();
    CHECK(stats.events_too_large.load() == 1);
    CHECK(stats.events_delivered.load() == 1);
}

TEST_CASE("SpoolDelivery: dry run", "[spool]") {
    Harness h;
    h.write_segment(segment_name(1), line_of("a") + "garbage\n" + line_of("b"));
    h.write_segment(segment_name(2, ".open"), line_of("c"));
    const std::string e1 = R"({"kind":"custom","key":"n1"})";
    h.write_incoming("events.ndjson", e1 + "\n");
    const FileMap before = snapshot(h.root());

    SpoolDeliveryOptions options;
    options.dry_run = true;
    SpoolDeliveryStats& stats = h.pass(options);

    const auto sent = h.upstream.sent();
    REQUIRE(sent.size() == 4);
    CHECK(util::is_uuid(sent[0].id));
    CHECK(sent[0].body == "[" + e1 + "]");
    CHECK(sent[1].id == "a");
    CHECK(sent[2].id == "b");
    CHECK(sent[3].id == "c");
    CHECK(sent[3].body == events_of("c"));
    for (const Sent& s : sent) {
        CHECK(s.origin == 0); // nothing to route back: no progress is kept
    }
    CHECK(stats.malformed.load() == 1);
    CHECK(stats.payloads_read.load() == 4);
    // No file was created, changed, moved or removed.
    CHECK(snapshot(h.root()) == before);
}

TEST_CASE("SpoolDelivery: a rejected credential keeps the segment", "[spool]") {
    Harness h;
    const std::string name = segment_name(1);
    h.write_segment(name, line_of("a") + line_of("b"));

    SECTION("401") {
        h.upstream.policy = [](const Sent&) { return Answer::rejected; };
        SpoolDeliveryStats& stats = h.pass();
        const auto rejection = h.delivery->first_rejection();
        REQUIRE(rejection);
        CHECK_THAT(*rejection, Catch::Contains("401") && Catch::Contains("production"));
        // A rejection is not an outage: the other lines are still tried.
        CHECK(h.upstream.sent_ids() == std::vector<std::string>{"a", "b"});
        CHECK_FALSE(stats.upstream_unavailable.load());
        CHECK(stats.payloads_kept.load() == 2);
        CHECK(fs::exists(h.root() / name));
        CHECK(h.done_file(name).empty());
    }

    SECTION("no credential") {
        h.upstream.policy = [](const Sent& sent) {
            return sent.id == "a" ? Answer::no_credential : Answer::deliver;
        };
        SpoolDeliveryStats& stats = h.pass();
        const auto rejection = h.delivery->first_rejection();
        REQUIRE(rejection);
        CHECK_THAT(*rejection, Catch::Contains("environment \"production\" has no"));
        CHECK(stats.payloads_delivered.load() == 1);
        CHECK(fs::exists(h.root() / name));
        CHECK(h.done_file(name) == "2\n");
    }

    SECTION("the first rejection is the one kept") {
        h.upstream.policy = [](const Sent& sent) {
            return sent.id == "a" ? Answer::no_credential : Answer::rejected;
        };
        h.pass();
        const auto rejection = h.delivery->first_rejection();
        REQUIRE(rejection);
        CHECK_THAT(*rejection, Catch::Contains("has no"));
    }
}

TEST_CASE("SpoolDelivery::request_stop", "[spool]") {
    Harness h;
    const std::string name = segment_name(1);
    h.write_segment(name, line_of("a") + line_of("b") + line_of("c"));
    h.write_segment(segment_name(2), line_of("d"));
    h.upstream.hold = true;
    h.make_delivery({});
    h.upstream.on_submit = [&](const Sent&) { h.delivery->request_stop(0ms); };

    SpoolDeliveryStats& stats = h.pass({}, true);
    // Stopped after the line in hand; its outcome is still outstanding.
    CHECK(h.upstream.sent_ids() == std::vector<std::string>{"a"});
    CHECK(fs::exists(h.root() / name));

    // The late outcome still finds the delivery and is recorded.
    h.upstream.release_held();
    CHECK(stats.payloads_delivered.load() == 1);
    CHECK(h.done_file(name) == "1\n");
    CHECK(fs::exists(h.root() / name));

    // Later passes of a stopped delivery do nothing.
    h.upstream.on_submit = nullptr;
    h.upstream.hold = false;
    h.pass({}, true);
    CHECK(h.upstream.sent_ids() == std::vector<std::string>{"a"});

    // A new flush sends what is left.
    h.upstream.clear();
    h.pass();
    CHECK(h.upstream.sent_ids() == std::vector<std::string>{"b", "c", "d"});
    CHECK(regular_files(h.root()).empty());
}

namespace {

Payload make_payload(const std::string& id, std::size_t events, std::uint64_t origin = 0) {
    Payload payload;
    payload.id = id;
    payload.env_name = "production";
    payload.sdk = SdkKind::js;
    payload.metadata = PayloadMetadata{4, "application-id/web"};
    payload.body = events_of(id, static_cast<int>(events));
    payload.event_count = events;
    payload.created = k_now;
    payload.origin = origin;
    return payload;
}

// The payload IDs and bodies of every line in the closed segments of `root`.
std::vector<std::pair<std::string, std::string>> spooled_lines(const SpoolDirectory& spool) {
    std::vector<std::pair<std::string, std::string>> lines;
    for (const auto& segment : spool.closed_segments()) {
        auto input = util::InputStream::open(segment.string());
        REQUIRE(input);
        EventReader reader(**input, InputFormat::capture);
        InputItem item;
        InputProblem problem;
        while (true) {
            auto next = reader.next(item, problem);
            REQUIRE(next);
            if (*next == EventReader::Next::end) {
                break;
            }
            REQUIRE(*next == EventReader::Next::item);
            lines.emplace_back(item.envelope->payload_id.value_or(""),
                               std::string(item.envelope->events_json));
        }
    }
    return lines;
}

} // namespace

TEST_CASE("SpoolingListener", "[spool]") {
    QuietLog quiet;
    test::ScratchDir scratch;
    auto spool = SpoolDirectory::open(scratch / "spool");
    REQUIRE(spool);
    RecordingListener next;
    CounterRegistry counters;
    SpoolWriter writer(*spool, SpoolWriterOptions{});
    SpoolingListener listener(next, counters, &writer);
    DeliveryCounters& target = counters.for_target("production", SdkKind::js);

    SECTION("undeliverable payloads from memory are spooled with their payload IDs") {
        listener.on_undeliverable(make_payload("p1", 3), Undeliverable::retries_exhausted, 503);
        listener.on_undeliverable(make_payload("p2", 1), Undeliverable::rejected, 401);
        listener.on_undeliverable(make_payload("p3", 2), Undeliverable::no_credential, 0);
        listener.on_undeliverable(make_payload("p4", 1), Undeliverable::shutdown, 0);
        CHECK(target.events_spooled.load() == 7);
        CHECK(target.dropped_total() == 0);
        CHECK(next.undeliverable_count() == 0);
        writer.close();
        const auto lines = spooled_lines(*spool);
        REQUIRE(lines.size() == 4);
        CHECK(lines[0] == std::make_pair(std::string("p1"), events_of("p1", 3)));
        CHECK(lines[3].first == "p4");
    }

    SECTION("a single event too large is not spooled: the ledger gets it") {
        listener.on_undeliverable(make_payload("big", 1), Undeliverable::too_large, 413);
        CHECK(target.events_spooled.load() == 0);
        REQUIRE(next.undeliverable.size() == 1);
        CHECK(next.undeliverable[0] ==
              std::make_pair(std::string("big"), Undeliverable::too_large));
        writer.close();
        CHECK(spool->closed_segments().empty());
    }

    SECTION("deliveries go to the ledger") {
        listener.on_delivered(make_payload("ok", 2), 202);
        CHECK(next.delivered == std::vector<std::string>{"ok"});
        CHECK(target.events_spooled.load() == 0);
    }

    SECTION("spool lines (origin set) are never spooled again") {
        // Without a SpoolDelivery to route them to, they are left where they are.
        listener.on_undeliverable(make_payload("line", 2, 42), Undeliverable::retries_exhausted,
                                  503);
        CHECK(target.events_spooled.load() == 0);
        CHECK(next.undeliverable_count() == 0);
        writer.close();
        CHECK(spool->closed_segments().empty());
    }

    SECTION("overflowing events are spooled as a payload with a new ID") {
        const std::vector<std::string_view> events{R"({"kind":"custom","key":"o1"})",
                                                   R"({"kind":"custom","key":"o2"})"};
        listener.on_overflow("production", SdkKind::js, PayloadMetadata{4, ""}, events);
        CHECK(target.events_spooled.load() == 2);
        CHECK(target.dropped_total() == 0);
        writer.close();
        const auto lines = spooled_lines(*spool);
        REQUIRE(lines.size() == 1);
        CHECK(util::is_uuid(lines[0].first));
        CHECK(lines[0].second == join_events(events));
    }

    SECTION("without a writer, overflow is dropped as queue_full") {
        SpoolingListener plain(next, counters, nullptr);
        plain.on_overflow("production", SdkKind::js, PayloadMetadata{4, ""},
                          {R"({"kind":"custom"})"});
        CHECK(target.events_dropped[static_cast<std::size_t>(DropReason::queue_full)].load() == 1);
        plain.on_undeliverable(make_payload("p", 1), Undeliverable::retries_exhausted, 503);
        CHECK(next.undeliverable_count() == 1);
        CHECK(target.events_spooled.load() == 0);
    }
}

TEST_CASE("SpoolingListener: spool lines go back to the SpoolDelivery", "[spool]") {
    Harness h;
    test::ScratchDir other;
    auto own_spool = SpoolDirectory::open(other / "serve-spool");
    REQUIRE(own_spool);
    SpoolWriter writer(*own_spool, SpoolWriterOptions{});
    SpoolingListener listener(h.next, h.counters, &writer);
    // The harness's upstream reports to its own listener; route through this one instead.
    FakeUpstream upstream(listener);
    SpoolDelivery delivery(h.spool, upstream, {}, [](const InputProblem&) {});
    listener.set_delivery(&delivery);

    h.write_segment(segment_name(1), line_of("a") + line_of("b"));
    upstream.policy = [](const Sent& sent) {
        return sent.id == "b" ? Answer::retries_exhausted : Answer::deliver;
    };
    SpoolDeliveryStats stats;
    delivery.run(stats);
    upstream.stop();

    CHECK(stats.payloads_delivered.load() == 1);
    CHECK(stats.payloads_kept.load() == 1);
    // "b" stays in its segment and is not written to the serve's spool a second time.
    writer.close();
    CHECK(own_spool->closed_segments().empty());
    CHECK(h.counters.totals().spooled == 0);
    CHECK(h.done_file(segment_name(1)) == "1\n");
    CHECK(h.next.delivered == std::vector<std::string>{"a"});
}

TEST_CASE("SpoolingListener: a failing spool write falls back to the ledger", "[spool]") {
    test::ScratchDir scratch;
    auto spool = SpoolDirectory::open(scratch / "spool");
    REQUIRE(spool);
    // In a child whose files cannot grow at all, every spool write fails (EFBIG).
    const int status = test::run_with_file_size_limit(0, [&] {
        RecordingListener next;
        CounterRegistry counters;
        SpoolWriter writer(*spool, SpoolWriterOptions{});
        SpoolingListener listener(next, counters, &writer);
        listener.on_undeliverable(make_payload("p", 2), Undeliverable::retries_exhausted, 503);
        listener.on_overflow("production", SdkKind::js, PayloadMetadata{4, ""},
                             {R"({"kind":"custom"})"});
        const DeliveryCounters& target = counters.for_target("production", SdkKind::js);
        const bool ok =
            next.undeliverable.size() == 1 && next.undeliverable[0].first == "p" &&
            target.events_spooled.load() == 0 &&
            target.events_dropped[static_cast<std::size_t>(DropReason::queue_full)].load() == 1 &&
            writer.write_errors() == 2;
        writer.close();
        return ok ? 0 : 1;
    });
    CHECK(status == 0);
    CHECK(spool->closed_segments().empty());
}

TEST_CASE("SpoolDelivery: payloads spooled by a serve are delivered as they were", "[spool]") {
    Harness h;
    {
        SpoolWriter writer(h.spool, SpoolWriterOptions{});
        SpoolingListener spooling(h.next, h.counters, &writer);
        spooling.on_undeliverable(make_payload("p1", 3), Undeliverable::retries_exhausted, 503);
        spooling.on_undeliverable(make_payload("p2", 1), Undeliverable::shutdown, 0);
        spooling.on_overflow("staging", SdkKind::mobile, PayloadMetadata{3, "t"},
                             {R"({"kind":"custom","key":"o"})"});
    }
    h.pass();
    const auto sent = h.upstream.sent();
    REQUIRE(sent.size() == 3);
    CHECK(sent[0].id == "p1");
    CHECK(sent[0].body == events_of("p1", 3));
    CHECK(sent[0].event_count == 3);
    CHECK(sent[0].env_name == "production");
    CHECK(sent[0].sdk == SdkKind::js);
    CHECK(sent[0].metadata == PayloadMetadata{4, "application-id/web"});
    CHECK(sent[0].created == k_now);
    CHECK(sent[1].id == "p2");
    CHECK(util::is_uuid(sent[2].id));
    CHECK(sent[2].env_name == "staging");
    CHECK(sent[2].sdk == SdkKind::mobile);
    CHECK(sent[2].metadata == PayloadMetadata{3, "t"});
    CHECK(sent[2].body == R"([{"kind":"custom","key":"o"}])");
    CHECK(regular_files(h.root()).empty());
}

TEST_CASE("SpoolDelivery: a segment whose bad/ copy fails is kept", "[spool]") {
    Harness h;
    const std::string name = segment_name(1);
    const std::string content = line_of("a") + "garbage\n" + line_of("b");
    h.write_segment(name, content);
    // bad/ cannot hold a copy: a file stands where the directory should be.
    fs::remove(h.spool.bad_dir());
    h.scratch.write("spool/bad", "in the way");

    SpoolDeliveryStats& stats = h.pass();
    CHECK(h.upstream.sent_ids() == std::vector<std::string>{"a", "b"});
    CHECK(stats.io_failed.load());
    CHECK(stats.malformed.load() == 1);
    CHECK(test::read_file(h.root() / name) == content);
}

// The malformed line of a segment whose bad/ copy failed must survive somewhere: SPEC §7 says
// malformed spool data is moved to bad/ and never deleted. (It was once recorded as done before
// the copy was attempted, so the next pass skipped it, made no copy and removed the segment.)
TEST_CASE("SpoolDelivery: a malformed line survives a failed bad/ copy", "[spool]") {
    Harness h;
    const std::string name = segment_name(1);
    const std::string content = line_of("a") + "garbage\n" + line_of("b");
    h.write_segment(name, content);
    fs::remove(h.spool.bad_dir());
    h.scratch.write("spool/bad", "in the way");
    h.pass();
    REQUIRE(fs::exists(h.root() / name));

    // bad/ is repaired; the next flush runs.
    fs::remove(h.root() / "bad");
    REQUIRE(SpoolDirectory::open(h.root()));
    h.upstream.clear();
    SpoolDeliveryStats& second = h.pass();
    CHECK(h.upstream.sent().empty()); // "a" and "b" were delivered by the first pass
    const bool kept_in_spool = fs::exists(h.root() / name);
    const bool copied_to_bad = fs::exists(h.spool.bad_dir() / name);
    CHECK((kept_in_spool || copied_to_bad));
    if (copied_to_bad) {
        CHECK(test::read_file(h.spool.bad_dir() / name) == content);
        CHECK(second.malformed.load() == 1);
    }
}

// A cron job that drops files under the same name each time: a second malformed
// "events.ndjson" must not replace the first one's copy in bad/ (never deleted, SPEC §7).
TEST_CASE("SpoolDelivery: a malformed incoming file does not replace an earlier one in bad/",
          "[spool]") {
    Harness h;
    const std::string first = R"({"kind":"custom","key":"first"})"
                              "\n{broken one\n";
    const std::string second = R"({"kind":"custom","key":"second"})"
                               "\n{broken two\n";
    h.write_incoming("events.ndjson", first);
    h.pass();
    REQUIRE(test::read_file(h.spool.bad_dir() / "events.ndjson") == first);

    h.write_incoming("events.ndjson", second);
    h.pass();
    std::vector<std::string> contents;
    for (const auto& entry : fs::directory_iterator(h.spool.bad_dir())) {
        contents.push_back(test::read_file(entry.path()));
    }
    std::sort(contents.begin(), contents.end());
    CHECK(contents == std::vector<std::string>{first, second});
}

// A truncated or corrupt .gz in incoming/ is moved to bad/; it must be counted as malformed, or
// flush exits 0 ("all delivered") with data set aside in bad/ (SPEC §7: exit 65).
TEST_CASE("SpoolDelivery: a corrupt incoming .gz file counts as malformed", "[spool]") {
    Harness h;
    std::string events;
    for (int i = 0; i < 200; ++i) {
        events += R"({"kind":"custom","key":"k)" + std::to_string(i) + "\"}\n";
    }
    std::string gz;
    util::GzipCompressor compressor;
    compressor.compress(events, gz);
    gz.resize(gz.size() / 2);
    h.write_incoming("events.ndjson.gz", gz);

    SpoolDeliveryStats& stats = h.pass();
    CHECK(regular_files(h.spool.incoming_dir()).empty());
    CHECK(regular_files(h.spool.bad_dir()) == std::vector<std::string>{"events.ndjson.gz"});
    CHECK(stats.malformed.load() > 0);
}

TEST_CASE("SpoolDelivery: an incoming file that cannot be spooled stays in incoming/", "[spool]") {
    Harness h;
    std::string events;
    for (int i = 0; i < 100; ++i) {
        events += R"({"kind":"custom","key":"event-)" + std::to_string(i) + R"(","pad":")" +
                  std::string(100, 'p') + "\"}\n";
    }
    const fs::path incoming = h.write_incoming("events.ndjson", events);
    SpoolDeliveryOptions options;
    options.max_events_per_payload = 10;

    // In a child whose files cannot grow beyond 4 KB, the ingest's segment write fails (EFBIG)
    // after a few lines.
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int status = 90;
        try {
            std::signal(SIGXFSZ, SIG_IGN);
            const rlimit limit{4096, 4096};
            if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) {
                ::_exit(91);
            }
            SpoolDeliveryStats& stats = h.pass(options);
            status = (stats.io_failed.load() ? 0 : 1) | (stats.files_ingested.load() == 0 ? 0 : 2) |
                     (h.upstream.sent().empty() ? 0 : 4);
        } catch (...) {
            status = 92;
        }
        ::_exit(status);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    // Nothing half-ingested is left behind; the file is read again next time.
    CHECK(regular_files(h.root()).empty());
    CHECK(test::read_file(incoming) == events);

    SpoolDeliveryStats& stats = h.pass(options);
    CHECK(stats.files_ingested.load() == 1);
    CHECK(stats.events_delivered.load() == 100);
    CHECK(h.upstream.sent().size() == 10);
    CHECK(regular_files(h.spool.incoming_dir()).empty());
    CHECK(regular_files(h.root()).empty());
}

namespace {

// The body of one payload carrying the events of `parts` (events_of bodies) in order.
std::string joined(const std::vector<std::string>& parts) {
    std::string body = "[";
    for (const std::string& part : parts) {
        if (body.size() > 1) {
            body += ",";
        }
        body += part.substr(1, part.size() - 2);
    }
    return body + "]";
}

SpoolDeliveryOptions rebatch_options(std::size_t max_events = 1000,
                                     std::size_t max_bytes = 4u << 20) {
    SpoolDeliveryOptions options;
    options.rebatch = true;
    options.max_events_per_payload = max_events;
    options.max_bytes_per_payload = max_bytes;
    return options;
}

} // namespace

TEST_CASE("SpoolDelivery: rebatch sends the lines of one destination together", "[spool]") {
    Harness h;
    const std::string name = segment_name(1);
    h.write_segment(name, line_of("a", 2) + line_of("b", 1, k_now, "staging") +
                              line_of("c", 3, k_now - 5s) + line_of("d", 1, k_now, "staging") +
                              line_of("e", 2));
    std::vector<std::string> done_at_submit;
    h.upstream.on_submit = [&](const Sent&) { done_at_submit.push_back(h.done_file(name)); };

    SpoolDeliveryStats& stats = h.pass(rebatch_options());

    const auto sent = h.upstream.sent();
    REQUIRE(sent.size() == 2);
    CHECK(sent[0].env_name == "production");
    CHECK(sent[0].body == joined({events_of("a", 2), events_of("c", 3), events_of("e", 2)}));
    CHECK(sent[0].event_count == 7);
    CHECK(sent[0].created == k_now - 5s); // the oldest line's
    CHECK(sent[1].env_name == "staging");
    CHECK(sent[1].body == joined({events_of("b"), events_of("d")}));
    CHECK(sent[1].event_count == 2);
    for (const Sent& s : sent) {
        CHECK(util::is_uuid(s.id));
        CHECK(s.data == DataKind::analytics);
        CHECK(s.metadata == PayloadMetadata{4, "application-id/test"});
    }
    CHECK(sent[0].id != sent[1].id);
    // Each batch was on file, with its ID and lines, before it was handed over.
    REQUIRE(done_at_submit.size() == 2);
    CHECK(done_at_submit[0] == "b " + sent[0].id + " 1 3 5\n");
    // (The fake upstream answers before submit() returns: the first batch's lines are done.)
    CHECK(done_at_submit[1] == "b " + sent[0].id + " 1 3 5\n1\n3\n5\nb " + sent[1].id + " 2 4\n");

    CHECK(regular_files(h.root()).empty());
    CHECK(stats.payloads_read.load() == 5);
    CHECK(stats.payloads_delivered.load() == 5);
    CHECK(stats.events_delivered.load() == 9);
    CHECK(stats.payloads_sent.load() == 2);
    CHECK(h.next.delivered_count() == 2);
}

TEST_CASE("SpoolDelivery: rebatch limits", "[spool]") {
    Harness h;
    h.write_segment(segment_name(1), line_of("a", 2) + line_of("b", 2) + line_of("c", 2));

    SECTION("--batch-size: a batch that reaches it leaves at once; a line alone keeps its ID") {
        h.pass(rebatch_options(4));
        const auto sent = h.upstream.sent();
        REQUIRE(sent.size() == 2);
        CHECK(sent[0].body == joined({events_of("a", 2), events_of("b", 2)}));
        CHECK(util::is_uuid(sent[0].id));
        CHECK(sent[1].id == "c");
        CHECK(sent[1].body == events_of("c", 2));
    }

    SECTION("--batch-bytes") {
        const std::size_t two = joined({events_of("a", 2), events_of("b", 2)}).size();
        h.pass(rebatch_options(1000, two - 1));
        CHECK(h.upstream.sent_ids() == std::vector<std::string>{"a", "b", "c"});
    }

    SECTION("a line larger than the limit is sent alone, whole") {
        h.pass(rebatch_options(1));
        CHECK(h.upstream.sent_ids() == std::vector<std::string>{"a", "b", "c"});
        CHECK(h.upstream.sent()[0].body == events_of("a", 2));
    }
    CHECK(regular_files(h.root()).empty());
}

TEST_CASE("SpoolDelivery: rebatch re-sends a recorded batch under its ID", "[spool]") {
    Harness h;
    const std::string name = segment_name(1);

    SECTION("a batch that failed goes out again as it was") {
        h.write_segment(name, line_of("a") + line_of("b") + line_of("c"));
        h.upstream.policy = [](const Sent&) { return Answer::retries_exhausted; };
        SpoolDeliveryStats& failed = h.pass(rebatch_options());
        CHECK(failed.payloads_kept.load() == 3);
        REQUIRE(h.upstream.sent().size() == 1);
        const Sent first = h.upstream.sent()[0];
        CHECK(h.done_file(name) == "b " + first.id + " 1 2 3\n");

        h.upstream.clear();
        h.upstream.policy = [](const Sent&) { return Answer::deliver; };
        SpoolDeliveryStats& again = h.pass(rebatch_options());
        REQUIRE(h.upstream.sent().size() == 1);
        CHECK(h.upstream.sent()[0].id == first.id);
        CHECK(h.upstream.sent()[0].body == first.body);
        CHECK(again.payloads_delivered.load() == 3);
        CHECK(regular_files(h.root()).empty());
    }

    SECTION("its lines not done yet, whatever the limits and the lines between say now") {
        // A pass died after recording "recorded" (lines 1, 3, 4) and marking line 3 done.
        h.write_segment(name, line_of("a") + line_of("x", 1, k_now, "staging") + line_of("c") +
                                  line_of("d") + line_of("e"));
        h.scratch.write("spool/" + name + ".done", "b recorded 1 3 4\n3\n");
        const bool rebatch = GENERATE(true, false);
        CAPTURE(rebatch);
        // Without rebatch too (flush's default after a serve --durable recorded batches): sent
        // as those lines' own payloads, the upstream could get their events twice.
        h.pass(rebatch ? rebatch_options(1) : SpoolDeliveryOptions{});
        const auto sent = h.upstream.sent();
        REQUIRE(sent.size() == 3);
        CHECK(sent[0].id == "x"); // at the batch size of 1 (or alone): sent when read
        CHECK(sent[1].id == "recorded");
        CHECK(sent[1].body == joined({events_of("a"), events_of("d")}));
        CHECK(sent[1].event_count == 2);
        CHECK(sent[2].id == "e");
        CHECK(regular_files(h.root()).empty());
    }
}

TEST_CASE("SpoolDelivery: rebatch leaves diagnostic lines alone and completes split batches",
          "[spool]") {
    Harness h;
    const std::string name = segment_name(1);
    std::string content = line_of("a", 2);
    CaptureRecord record;
    record.received = k_now;
    record.env_name = "production";
    record.kind = DataKind::diagnostic;
    record.metadata = PayloadMetadata{4, "application-id/test"};
    const std::string diagnostic = R"({"kind":"diagnostic","id":{"diagnosticId":"d"}})";
    record.events_json = diagnostic;
    append_capture_line(content, record);
    content += line_of("b", 2);
    h.write_segment(name, content);

    SECTION("both pieces of a 413 split delivered") {
        h.upstream.policy = [](const Sent& sent) {
            return sent.data == DataKind::analytics ? Answer::split : Answer::deliver;
        };
        SpoolDeliveryStats& stats = h.pass(rebatch_options());
        const auto sent = h.upstream.sent();
        REQUIRE(sent.size() == 2);
        CHECK(sent[0].id.empty());
        CHECK(sent[0].body == diagnostic);
        CHECK(sent[1].body == joined({events_of("a", 2), events_of("b", 2)}));
        CHECK(stats.payloads_delivered.load() == 3);
        CHECK(stats.events_delivered.load() == 5);
        CHECK(regular_files(h.root()).empty());
    }

    SECTION("a piece failed: every line of the batch stays") {
        h.upstream.policy = [](const Sent& sent) {
            return sent.data == DataKind::analytics ? Answer::split : Answer::deliver;
        };
        h.upstream.piece_answers = {Answer::deliver, Answer::rejected};
        SpoolDeliveryStats& stats = h.pass(rebatch_options());
        CHECK(stats.payloads_delivered.load() == 1); // the diagnostic line
        CHECK(stats.payloads_kept.load() == 2);
        CHECK(stats.events_kept.load() == 4);
        const std::string id = h.upstream.sent()[1].id;
        CHECK(h.done_file(name) == "2\nb " + id + " 1 3\n");
    }
}

TEST_CASE("SpoolDelivery: rebatch in a dry run records nothing", "[spool]") {
    Harness h;
    h.write_segment(segment_name(1), line_of("a") + line_of("b"));
    const FileMap before = snapshot(h.root());
    SpoolDeliveryOptions options = rebatch_options();
    options.dry_run = true;
    h.pass(options);
    const auto sent = h.upstream.sent();
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].body == joined({events_of("a"), events_of("b")}));
    CHECK(util::is_uuid(sent[0].id));
    CHECK(snapshot(h.root()) == before);
}

TEST_CASE("SpoolDelivery: rebatch drops a line whose payload ID came earlier in the segment",
          "[spool]") {
    Harness h;
    h.write_segment(segment_name(1), line_of("a", 2) + line_of("b") + line_of("a", 2));
    SpoolDeliveryStats& stats = h.pass(rebatch_options());
    const auto sent = h.upstream.sent();
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].body == joined({events_of("a", 2), events_of("b")}));
    CHECK(stats.payloads_read.load() == 3);
    CHECK(stats.payloads_duplicate.load() == 1);
    CHECK(stats.events_duplicate.load() == 2);
    CHECK(stats.payloads_delivered.load() == 2);
    CHECK(regular_files(h.root()).empty());
}

TEST_CASE("SpoolDelivery: rebatch of segments a serve drains from its writer's index", "[spool]") {
    Harness h;
    SpoolWriterOptions writer_options;
    writer_options.max_indexed_lines = 100;
    SpoolWriter writer(h.spool, writer_options);
    auto record = [](const std::string& id, const std::string& env, const std::string& events) {
        CaptureRecord r;
        r.received = k_now;
        r.env_name = env;
        r.metadata = PayloadMetadata{4, "application-id/test"};
        r.payload_id = id;
        r.events_json = events;
        return r;
    };
    const std::string a = events_of("a", 2);
    const std::string b = events_of("b");
    const std::string c = events_of("c", 3);
    REQUIRE(writer.append(record("a", "production", a), 2));
    REQUIRE(writer.append(record("b", "staging", b), 1));
    REQUIRE(writer.append(record("a", "production", a), 2)); // the SDK sent post "a" again
    REQUIRE(writer.append(record("c", "production", c), 3));
    writer.close();

    SpoolDeliveryOptions options = rebatch_options();
    options.index_for = [&writer](const fs::path& path) { return writer.index_of(path); };
    std::vector<std::string> done_at_submit;
    std::string segment;
    for (const auto& name : regular_files(h.root())) {
        segment = name;
    }
    REQUIRE(fs::path(segment).extension() == ".seg");
    REQUIRE(writer.index_of(h.root() / segment)); // delivered from the index, not parsed
    h.upstream.on_submit = [&](const Sent&) { done_at_submit.push_back(h.done_file(segment)); };
    SpoolDeliveryStats& stats = h.pass(options);

    const auto sent = h.upstream.sent();
    REQUIRE(sent.size() == 2);
    CHECK(sent[0].env_name == "production");
    CHECK(sent[0].body == joined({a, c}));
    CHECK(sent[0].event_count == 5);
    CHECK(util::is_uuid(sent[0].id));
    CHECK(done_at_submit[0] == "3\nb " + sent[0].id + " 1 4\n");
    CHECK(sent[1].id == "b"); // alone: its own ID
    CHECK(sent[1].body == b);
    CHECK(stats.payloads_duplicate.load() == 1);
    CHECK(stats.payloads_delivered.load() == 3);
    CHECK(stats.events_delivered.load() == 6);
    CHECK(regular_files(h.root()).empty());
}

TEST_CASE("SpoolDelivery: rebatch drops a repeat of a line sent in a recorded batch", "[spool]") {
    Harness h;
    const std::string name = segment_name(1);
    h.write_segment(name, line_of("a") + line_of("b") + line_of("a") + line_of("c"));
    h.scratch.write("spool/" + name + ".done", "b recorded 1 2\n");
    SpoolDeliveryStats& stats = h.pass(rebatch_options());
    const auto sent = h.upstream.sent();
    REQUIRE(sent.size() == 2);
    CHECK(sent[0].id == "recorded");
    CHECK(sent[0].body == joined({events_of("a"), events_of("b")}));
    CHECK(sent[1].id == "c");
    CHECK(stats.payloads_duplicate.load() == 1);
    CHECK(regular_files(h.root()).empty());
}

// SPEC §7 with rebatch: --max-age still drops old lines, a malformed line still goes to bad/
// (once), and the lines around them still form one batch.
TEST_CASE("SpoolDelivery: rebatch with --max-age and a malformed line", "[spool]") {
    Harness h;
    const std::string name = segment_name(1);
    h.write_segment(name,
                    line_of("a") + line_of("old", 1, k_now - 48h) + "garbage\n" + line_of("b"));
    SpoolDeliveryOptions options = rebatch_options();
    options.max_age = 24h;
    SpoolDeliveryStats& stats = h.pass(options);
    const auto sent = h.upstream.sent();
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].body == joined({events_of("a"), events_of("b")}));
    CHECK(stats.payloads_expired.load() == 1);
    CHECK(stats.malformed.load() == 1);
    CHECK(stats.payloads_delivered.load() == 2);
    REQUIRE(h.problems.size() == 1);
    CHECK(h.problems[0].line == 3);
    CHECK(regular_files(h.spool.bad_dir()) == std::vector<std::string>{name});
    CHECK(regular_files(h.root()).empty());
}
