#pragma once

#include "core/flags/flag_data.hpp"
#include "core/model/endpoint.hpp"
#include "core/model/metadata.hpp"
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

// Summarises one payload at a time, each followed by its own summary event (SPEC §8), for what
// must leave as one payload under an ID fixed before summarising: a spool line or a batch of
// them (flush, a durable serve's drain) and a replayed envelope under its recorded ID
// (replay --payload-ids preserve). A payload re-sent after a crash then carries the same counts
// under the same ID, which the upstream de-duplicates — a summary shared across payloads could
// not be. The LRU of seen contexts is kept per (environment, SDK kind, tags) across payloads, as
// SummaryHub keeps it, so a context is indexed once per 5 minutes, not once per payload.
// Thread-safe (one mutex: payloads of one spool pass are summarised one after another).
class PayloadSummarizer {
  public:
    using TimePoint = std::chrono::system_clock::time_point;
    using FlagDataSource = std::function<std::shared_ptr<const FlagData>(const std::string&)>;
    using UpstreamDateSource = std::function<std::optional<TimePoint>()>;
    using Clock = std::function<TimePoint()>;

    PayloadSummarizer(FlagDataSource flag_data, UpstreamDateSource upstream_date,
                      SummarizerOptions options = {}, Clock clock = {});

    // The schema-4 events that `events` (of a post with metadata `in`) become, the summary of
    // their feature events last; empty only when `events` is.
    std::vector<std::string> summarize(const std::string& env_name, SdkKind sdk,
                                       const PayloadMetadata& in,
                                       const std::vector<std::string_view>& events);

    // What was done so far, per environment (for /status and /metrics).
    struct EnvironmentCounts {
        SummarizeCounts events;
        std::uint64_t summaries = 0; // summary events produced
    };
    std::map<std::string, EnvironmentCounts> counts() const;

  private:
    using Key = std::tuple<std::string, SdkKind, std::string>; // env, SDK kind, tags

    FlagDataSource m_flag_data;
    UpstreamDateSource m_upstream_date;
    SummarizerOptions m_options;
    Clock m_clock;

    mutable std::mutex m_mutex;
    std::map<Key, std::unique_ptr<EventSummarizer>> m_summarizers;
    std::map<std::string, EnvironmentCounts> m_counts;
};

} // namespace evrelay
