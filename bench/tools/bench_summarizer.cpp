// CPU per event of the summarising path against the verbatim one, in process (issue 11: "CPU
// per summarised event <= 2 x the verbatim path's"). Both start from the same 50-event schema-2
// PHP-style post body (feature events with inline users, ~420 bytes each):
//   verbatim:    EventSplitter::split_array + Dispatcher::publish, flush_all every 20 posts;
//   summarised:  EventSplitter::split_array + SummaryHub::publish, then flush_summaries and
//                flush_all every 20 posts.
// Payloads go to a sink that drops them. serve adds the same HTTP work to both, and gzip and
// sending only to the verbatim path (whose output is ~50 x larger), so serve's ratio is at
// most this one.
//
//   bench_summarizer [--posts N] [--users U] [--tracked-percent P]

#include "core/flags/flag_data.hpp"
#include "core/json/event_splitter.hpp"
#include "core/model/counters.hpp"
#include "core/model/memory_budget.hpp"
#include "core/pipeline/dispatcher.hpp"
#include "core/summary/summary_hub.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

class NullSink : public evrelay::PayloadSink {
  public:
    void submit(evrelay::Payload payload) override { bytes += payload.body.size(); }
    std::size_t bytes = 0;
};

double cpu_seconds() {
    timespec now{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

constexpr int k_flags = 50;
constexpr int k_events_per_post = 50;

std::string flag_key(int flag) {
    char key[64];
    std::snprintf(key, sizeof key, "release-checkout-redesign-2024-q3-flag-%02d", flag);
    return key;
}

// Post `post` of the run: 50 evaluations of the 50 flags by users cycling over `users` keys.
std::string make_post(std::uint64_t post, int users) {
    std::string body = "[";
    for (int i = 0; i < k_events_per_post; ++i) {
        const std::uint64_t n = post * k_events_per_post + static_cast<std::uint64_t>(i);
        const int user = static_cast<int>(n % static_cast<std::uint64_t>(users));
        const int variation = static_cast<int>(n % 3);
        char event[1024];
        std::snprintf(
            event, sizeof event,
            R"(%s{"kind":"feature","creationDate":%llu,"key":"%s","user":{"key":"3f2b8c9e-%04d-4e7b-9c0f-1a2b3c4d5e6f",)"
            R"("name":"User %04d","email":"user-%04d@example.invalid","custom":{"plan":"gold","groups":["beta","staff"]}},)"
            R"("value":{"layout":"%s","columns":%d,"showBanner":false},)"
            R"("default":{"layout":"list","columns":2,"showBanner":false},"variation":%d,"version":%d})",
            i == 0 ? "" : ",", 1700000000000ULL + n, flag_key(i % k_flags).c_str(), user, user,
            user,
            variation == 0   ? "list"
            : variation == 1 ? "grid"
                             : "carousel",
            2 + variation, variation, 100 + i % k_flags);
        body += event;
    }
    body += ']';
    return body;
}

std::shared_ptr<const evrelay::FlagData> make_flags(int tracked_percent) {
    std::string json = R"({"flags":{)";
    for (int f = 0; f < k_flags; ++f) {
        const bool tracked = f * 100 < tracked_percent * k_flags;
        json += (f == 0 ? "\"" : ",\"") + flag_key(f) + R"(":{"version":)" +
                std::to_string(100 + f) +
                R"(,"variations":[{"layout":"list","columns":2,"showBanner":false},)"
                R"({"layout":"grid","columns":3,"showBanner":false},)"
                R"({"layout":"carousel","columns":4,"showBanner":false}],"trackEvents":)" +
                (tracked ? "true" : "false") + "}";
    }
    json += "}}";
    return std::make_shared<const evrelay::FlagData>(evrelay::parse_flag_data(json).value());
}

struct Figures {
    double cpu_ns_per_event = 0;
    std::size_t output_bytes = 0;
};

template <class PublishPost, class Flush>
Figures run(const std::vector<std::string>& posts, std::size_t rounds, NullSink& sink,
            PublishPost publish_post, Flush flush) {
    evrelay::EventSplitter splitter;
    std::vector<std::string_view> events;
    const double start = cpu_seconds();
    std::size_t published = 0;
    for (std::size_t round = 0; round < rounds; ++round) {
        for (const std::string& body : posts) {
            events.clear();
            if (!splitter.split_array(body, body.size(), events)) {
                std::fprintf(stderr, "bench_summarizer: a generated post is not valid JSON\n");
                std::exit(1);
            }
            publish_post(events);
            if (++published % 20 == 0) {
                flush();
            }
        }
    }
    flush();
    const double seconds = cpu_seconds() - start;
    return {seconds * 1e9 / static_cast<double>(published * k_events_per_post), sink.bytes};
}

} // namespace

int main(int argc, char** argv) {
    std::size_t post_count = 4000;
    int users = 500;
    int tracked_percent = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--posts" && i + 1 < argc) {
            post_count = std::strtoull(argv[++i], nullptr, 10);
        } else if (arg == "--users" && i + 1 < argc) {
            users = std::atoi(argv[++i]);
        } else if (arg == "--tracked-percent" && i + 1 < argc) {
            tracked_percent = std::atoi(argv[++i]);
        } else {
            std::fprintf(stderr, "usage: %s [--posts N] [--users U] [--tracked-percent P]\n",
                         argv[0]);
            return 2;
        }
    }
    if (users <= 0) {
        users = 1;
    }
    // 200 distinct posts, replayed: generating them is not what is measured.
    std::vector<std::string> posts;
    for (std::uint64_t p = 0; p < 200; ++p) {
        posts.push_back(make_post(p, users));
    }
    const std::size_t rounds = (post_count + posts.size() - 1) / posts.size();
    std::shared_ptr<const evrelay::FlagData> flags = make_flags(tracked_percent);

    evrelay::MemoryBudget budget(1u << 30);
    evrelay::CounterRegistry counters;

    NullSink verbatim_sink;
    evrelay::Dispatcher verbatim(evrelay::PublisherOptions{}, verbatim_sink, budget, counters);
    const Figures plain = run(
        posts, rounds, verbatim_sink,
        [&](const std::vector<std::string_view>& events) {
            verbatim.publish("production", evrelay::SdkKind::server, {2, ""}, events);
        },
        [&] { verbatim.flush_all(); });

    NullSink summary_sink;
    evrelay::Dispatcher summarised(evrelay::PublisherOptions{}, summary_sink, budget, counters);
    evrelay::SummaryHub hub(
        summarised, [&](const std::string&) { return flags; }, [] { return std::nullopt; });
    const Figures summary = run(
        posts, rounds, summary_sink,
        [&](const std::vector<std::string_view>& events) {
            hub.publish("production", evrelay::SdkKind::server, {2, ""}, events);
        },
        [&] {
            hub.flush_summaries();
            summarised.flush_all();
        });

    const evrelay::SummaryStats stats = hub.stats("production");
    std::printf("events: %zu (%d users, %d%% of flags tracked)\n",
                rounds * posts.size() * k_events_per_post, users, tracked_percent);
    std::printf("verbatim:   %7.0f ns CPU/event, %zu bytes out\n", plain.cpu_ns_per_event,
                plain.output_bytes);
    std::printf("summarised: %7.0f ns CPU/event, %zu bytes out (%llu summary, %llu index, %llu "
                "feature events)\n",
                summary.cpu_ns_per_event, summary.output_bytes,
                static_cast<unsigned long long>(stats.summary_events),
                static_cast<unsigned long long>(stats.index_events),
                static_cast<unsigned long long>(stats.feature_events));
    std::printf("ratio:      %.2f\n", summary.cpu_ns_per_event / plain.cpu_ns_per_event);
    return 0;
}
