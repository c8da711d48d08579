// Memory a Publisher holds per queued event, against the events' raw bytes. Publishes M
// realistic events (bench_events.hpp) in 50-event posts with two metadata variants, with batch
// limits so high that nothing is cut and a sink that would hold nothing, then compares:
//   - the resident set growth (/proc/self/statm: what the allocator really took), and
//   - Publisher::queued_capacity_bytes() (the arenas' allocated bytes)
// with the sum of the events' sizes. Relay's Go event queue measured 1.83x on the same events.
//
//   bench_queue_memory [--events M] [--fixture PATH]

#include "bench/tools/bench_events.hpp"

#include "core/model/counters.hpp"
#include "core/model/memory_budget.hpp"
#include "core/pipeline/publisher.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

namespace {

class NullSink : public evrelay::PayloadSink {
  public:
    void submit(evrelay::Payload payload) override {
        ++m_payloads;
        (void)payload;
    }
    std::size_t payloads() const { return m_payloads; }

  private:
    std::size_t m_payloads = 0;
};

// Resident bytes from /proc/self/statm (second field, in pages).
std::size_t resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::size_t size_pages = 0;
    std::size_t resident_pages = 0;
    statm >> size_pages >> resident_pages;
    return resident_pages * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

} // namespace

int main(int argc, char** argv) {
    std::size_t event_target = 200'000;
    std::string fixture{evrelay::bench::k_default_fixture};
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--events" && i + 1 < argc) {
            event_target = std::strtoull(argv[++i], nullptr, 10);
        } else if (arg == "--fixture" && i + 1 < argc) {
            fixture = argv[++i];
        } else {
            std::fprintf(stderr, "usage: %s [--events M] [--fixture PATH]\n", argv[0]);
            return 64;
        }
    }
    auto generator = evrelay::bench::RealisticEvents::load(fixture);
    if (!generator) {
        std::fprintf(stderr, "cannot read or split the fixture %s\n", fixture.c_str());
        return 66;
    }

    NullSink sink;
    evrelay::MemoryBudget budget(std::numeric_limits<std::size_t>::max() / 2);
    evrelay::DeliveryCounters counters;
    evrelay::PublisherOptions options;
    options.batch_size = std::numeric_limits<std::size_t>::max() / 2;
    options.batch_bytes = std::numeric_limits<std::size_t>::max() / 2;
    options.wait_for_room = false;
    evrelay::Publisher publisher("production", evrelay::SdkKind::server, options, sink, budget,
                                 counters);
    const evrelay::PayloadMetadata variants[] = {
        {4, "application-id/web-checkout application-version/4.18.2"},
        {4, "application-id/order-service application-version/2.3.0"},
    };

    // The generator's buffers are sized by a first round before the baseline is taken, so the
    // resident growth is the publisher's alone.
    std::string round_text;
    std::vector<std::pair<std::size_t, std::size_t>> spans;
    std::vector<std::string_view> events;
    round_text.reserve(64u << 10);
    spans.reserve(evrelay::bench::RealisticEvents::k_events_per_round);
    events.reserve(evrelay::bench::RealisticEvents::k_events_per_round);
    generator->append_round(0, round_text, ',', &spans);

    const std::size_t rss_before = resident_bytes();
    std::size_t published = 0;
    std::size_t raw_bytes = 0;
    for (std::uint64_t round = 0; published < event_target; ++round) {
        round_text.clear();
        spans.clear();
        events.clear();
        generator->append_round(round, round_text, ',', &spans);
        for (const auto& [offset, size] : spans) {
            if (published + events.size() == event_target) {
                break;
            }
            events.emplace_back(round_text.data() + offset, size);
            raw_bytes += size;
        }
        const auto result = publisher.publish(variants[evrelay::bench::mix64(round) % 2], events);
        if (result.accepted != events.size()) {
            std::fprintf(stderr, "publisher refused %zu events\n", events.size() - result.accepted);
            return 70;
        }
        published += events.size();
    }
    const std::size_t rss_after = resident_bytes();
    const std::size_t capacity = publisher.queued_capacity_bytes();
    const std::size_t rss_growth = rss_after > rss_before ? rss_after - rss_before : 0;
    const auto ratio = [raw_bytes](std::size_t bytes) {
        return raw_bytes == 0 ? 0.0 : static_cast<double>(bytes) / static_cast<double>(raw_bytes);
    };

    std::printf("queue_events=%zu\n", published);
    std::printf("queue_raw_bytes=%zu\n", raw_bytes);
    std::printf("queue_count=%zu\n", publisher.queue_count());
    std::printf("queue_payloads_cut=%zu\n", sink.payloads());
    std::printf("queue_queued_bytes=%zu\n", publisher.queued_bytes());
    std::printf("queue_capacity_bytes=%zu\n", capacity);
    std::printf("queue_rss_growth_bytes=%zu\n", rss_growth);
    std::printf("queue_arena_ratio=%.3f\n", ratio(capacity));
    std::printf("queue_rss_ratio=%.3f\n", ratio(rss_growth));
    std::printf("queue_bytes_per_event_rss=%.1f\n",
                published == 0 ? 0.0
                               : static_cast<double>(rss_growth) / static_cast<double>(published));
    const bool nothing_cut = sink.payloads() == 0;
    // Hands the queues to the sink, which discards them, rather than destroying a publisher
    // that still holds events (which warns that they are lost).
    publisher.close();
    return nothing_cut ? 0 : 1;
}
