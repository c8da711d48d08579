#pragma once

#include "core/flags/flag_data.hpp"
#include "core/model/endpoint.hpp"
#include "core/model/metadata.hpp"
#include "core/pipeline/dispatcher.hpp"
#include "core/pipeline/publisher.hpp"
#include "core/summary/event_summarizer.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace evrelay {

// What the summarisers of one environment have done, for /status and /metrics: a snapshot.
struct SummaryStats {
    std::uint64_t summarised_input = 0; // events given to a summariser (every kind)
    std::uint64_t summary_events = 0;   // summary events published
    std::uint64_t index_events = 0;     // index events produced (incoming ones kept count too)
    std::uint64_t feature_events = 0;   // full feature events produced
    std::uint64_t debug_events = 0;
    std::uint64_t kept_events = 0;      // custom, identify, alias … kept
    std::uint64_t passed_unchanged = 0; // unreadable events and unknown kinds, forwarded as is
    std::uint64_t duplicate_index = 0;  // incoming index events of contexts already indexed
};

// Owns one EventSummarizer per (environment, SDK kind, tags) and publishes what they produce
// into the Dispatcher as schema 4 with the post's tags (SPEC §8): the summarising counterpart
// of Dispatcher::publish for schema 1–2 posts and posts marked X-LaunchDarkly-Unsummarized.
// flush_summaries() publishes each pending summary event; call it right before every
// Dispatcher::flush_all(), so that a summary leaves with each flush of its queue.
// Thread-safe: one mutex guards the map and the statistics, and one per summariser is held
// while it converts and publishes (so that an index event is queued before the events that
// rely on it); Dispatcher::publish may block (replay, flush), which then holds up only posts
// for the same queue. flush_summaries() may be called from a Dispatcher callback on a thread
// inside publish() (PublisherOptions::on_starved, a sink): the summariser's mutex is recursive,
// and flush_summaries() waits at most k_flush_lock_wait for a summariser that another thread
// holds (two threads flushing from inside publish() would otherwise wait for each other); a
// summary it could not take then goes with the next flush.
class SummaryHub {
  public:
    using TimePoint = std::chrono::system_clock::time_point;
    // The environment's current flag data; null while there is none (events then count as
    // their SDK said, without tracking or debugging from the flag data).
    using FlagDataSource = std::function<std::shared_ptr<const FlagData>(const std::string&)>;
    // The Date of the upstream's last response, if any.
    using UpstreamDateSource = std::function<std::optional<TimePoint>()>;
    using Clock = std::function<TimePoint()>;

    static constexpr std::chrono::milliseconds k_flush_lock_wait{100};

    SummaryHub(Dispatcher& dispatcher, FlagDataSource flag_data, UpstreamDateSource upstream_date,
               SummarizerOptions options = {}, Clock clock = {});

    // Summarises `events` (the raw objects of one post with metadata `in`) and publishes the
    // output; the result counts the output events (what was queued or overflowed). `validated`,
    // when given, is the validator of the post whose parts() are `events` in order (the inbound
    // handler's): the events are read from its index instead of being indexed again.
    PublishResult publish(const std::string& env_name, SdkKind sdk, const PayloadMetadata& in,
                          const std::vector<std::string_view>& events,
                          const JsonValidator* validated = nullptr);

    // Publishes each summariser's pending summary event. Also forgets the summarisers that
    // have had no input for a whole context_keys_flush_interval and have nothing pending: their
    // LRU would be cleared before their next event anyway (so forgetting loses nothing), and
    // tags that are never seen again do not hold memory (as Relay closes idle queues).
    void flush_summaries();

    SummaryStats stats(const std::string& env_name) const;
    std::map<std::string, SummaryStats> all_stats() const;
    std::size_t summarizer_count() const;

  private:
    struct Entry {
        std::recursive_timed_mutex mutex;
        EventSummarizer summarizer;
        std::string env_name;
        SdkKind sdk = SdkKind::server;
        PayloadMetadata output; // schema 4, the post's tags
        TimePoint last_input{};
        bool retired = false; // removed from the map by flush_summaries()
        explicit Entry(SummarizerOptions options) : summarizer(options) {}
    };
    using Key = std::tuple<std::string, SdkKind, std::string>; // env, SDK kind, tags

    std::shared_ptr<Entry> entry_for(const std::string& env_name, SdkKind sdk,
                                     const std::string& tags);
    void record(const std::string& env_name, const SummarizeCounts& counts,
                std::uint64_t summaries);

    Dispatcher& m_dispatcher;
    FlagDataSource m_flag_data;
    UpstreamDateSource m_upstream_date;
    SummarizerOptions m_options;
    Clock m_clock;

    mutable std::mutex m_mutex;
    std::map<Key, std::shared_ptr<Entry>> m_entries;
    std::map<std::string, SummaryStats> m_stats;
};

} // namespace evrelay
