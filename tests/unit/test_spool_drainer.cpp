#include "tests/support/scratch_dir.hpp"

#include "core/model/counters.hpp"
#include "core/pipeline/delivery_ledger.hpp"
#include "core/spool/spool_drainer.hpp"
#include "core/spool/spool_writer.hpp"
#include "core/util/file_lock.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

using namespace evrelay;
namespace fs = std::filesystem;

namespace {

using namespace std::chrono_literals;

// An upstream that takes every payload at once: it reports the delivery to the listener from
// submit() itself (SpoolDelivery holds no lock while it submits).
class AcceptingSink : public PayloadSink {
  public:
    explicit AcceptingSink(DeliveryListener& listener) : m_listener(listener) {}
    void submit(Payload payload) override {
        {
            std::lock_guard lock(m_mutex);
            m_ids.push_back(payload.id);
        }
        m_listener.on_delivered(payload, 202);
    }
    std::vector<std::string> ids() const {
        std::lock_guard lock(m_mutex);
        return m_ids;
    }

  private:
    DeliveryListener& m_listener;
    mutable std::mutex m_mutex;
    std::vector<std::string> m_ids;
};

std::vector<fs::path> segments_in(const fs::path& root) {
    std::vector<fs::path> found;
    for (const auto& entry : fs::directory_iterator(root)) {
        const auto extension = entry.path().extension();
        if (extension == ".seg" || extension == ".open") {
            found.push_back(entry.path());
        }
    }
    return found;
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

CaptureRecord record(const std::string& id, const std::string& events) {
    CaptureRecord r;
    r.received = std::chrono::system_clock::now();
    r.env_name = "production";
    r.metadata = PayloadMetadata{4, ""};
    r.payload_id = id;
    r.events_json = events;
    return r;
}

} // namespace

TEST_CASE("SpoolDrainer", "[spool]") {
    test::ScratchDir scratch;
    auto directory = SpoolDirectory::open(scratch / "spool");
    REQUIRE(directory);
    CounterRegistry counters;
    DeliveryLedger ledger(counters);
    SpoolingListener listener(ledger, counters, nullptr);
    AcceptingSink sink(listener);
    const std::string events = R"([{"kind":"custom","key":"k"}])";

    SECTION("delivers segments left by an earlier run at once, then removes them") {
        {
            SpoolWriter writer(*directory, {});
            REQUIRE(writer.append(record("id-1", events), 1));
            REQUIRE(writer.append(record("id-2", events), 1));
        } // closed
        REQUIRE(segments_in(directory->root()).size() == 1);
        SpoolDrainer drainer(*directory, sink, listener, {}, 1h);
        CHECK(wait_until([&] { return segments_in(directory->root()).empty(); }, 10s));
        CHECK(sink.ids() == std::vector<std::string>{"id-1", "id-2"});
    }

    SECTION("skips its round while another process holds the delivery lock") {
        {
            SpoolWriter writer(*directory, {});
            REQUIRE(writer.append(record("id-1", events), 1));
        }
        auto held = util::FileLock::acquire(directory->delivery_lock_path().string(), 0ms);
        REQUIRE(held);
        REQUIRE(held->has_value());
        SpoolDrainer drainer(*directory, sink, listener, {}, 1h);
        std::this_thread::sleep_for(300ms);
        CHECK(sink.ids().empty());
        CHECK(segments_in(directory->root()).size() == 1);
        held->reset(); // the other process is done
        drainer.wake();
        CHECK(wait_until([&] { return segments_in(directory->root()).empty(); }, 10s));
        CHECK(sink.ids() == std::vector<std::string>{"id-1"});
    }

    SECTION("a closed segment wakes it; finish() delivers what is left before returning") {
        std::atomic<SpoolDrainer*> to_wake{nullptr};
        SpoolWriterOptions writer_options;
        writer_options.max_indexed_lines = 1000; // drained from the writer's index
        writer_options.on_segment_closed = [&to_wake] {
            if (SpoolDrainer* drainer = to_wake.load()) {
                drainer->wake();
            }
        };
        SpoolWriter writer(*directory, writer_options);
        SpoolDeliveryOptions options;
        options.index_for = [&writer](const fs::path& path) { return writer.index_of(path); };
        SpoolDrainer drainer(*directory, sink, listener, options, 1h);
        to_wake.store(&drainer);
        REQUIRE(writer.append(record("id-1", events), 1));
        writer.close(); // wakes the drainer, which delivers without waiting for its interval
        CHECK(wait_until([&] { return sink.ids().size() == 1; }, 10s));
        REQUIRE(writer.append(record("id-2", events), 1));
        REQUIRE(writer.append(record("id-3", events), 1));
        to_wake.store(nullptr);
        writer.close();
        drainer.finish(10s);
        CHECK(sink.ids() == std::vector<std::string>{"id-1", "id-2", "id-3"});
        CHECK(segments_in(directory->root()).empty());
    }
}
