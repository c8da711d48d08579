#include "core/summary/payload_summarizer.hpp"

#include <utility>

namespace evrelay {

PayloadSummarizer::PayloadSummarizer(FlagDataSource flag_data, UpstreamDateSource upstream_date,
                                     SummarizerOptions options, Clock clock)
    : m_flag_data(std::move(flag_data)), m_upstream_date(std::move(upstream_date)),
      m_options(options), m_clock(std::move(clock)) {
    if (!m_clock) {
        m_clock = [] { return std::chrono::system_clock::now(); };
    }
}

std::vector<std::string> PayloadSummarizer::summarize(const std::string& env_name, SdkKind sdk,
                                                      const PayloadMetadata& in,
                                                      const std::vector<std::string_view>& events) {
    std::vector<std::string> out;
    if (events.empty()) {
        return out;
    }
    // Asked before the lock: the source may poll LaunchDarkly (replay, flush: first use).
    const std::shared_ptr<const FlagData> flags = m_flag_data ? m_flag_data(env_name) : nullptr;
    const std::optional<TimePoint> upstream_date =
        m_upstream_date ? m_upstream_date() : std::nullopt;
    const TimePoint now = m_clock();

    std::lock_guard lock(m_mutex);
    std::unique_ptr<EventSummarizer>& summarizer = m_summarizers[Key{env_name, sdk, in.tags}];
    if (!summarizer) {
        summarizer = std::make_unique<EventSummarizer>(m_options);
    }
    SummarizeCounts counts;
    out.reserve(events.size() + 1);
    for (const std::string_view event : events) {
        summarizer->add(event, in.schema_version, flags.get(), now, upstream_date, out, counts);
    }
    EnvironmentCounts& total = m_counts[env_name];
    if (std::optional<std::string> summary = summarizer->take_summary()) {
        out.push_back(std::move(*summary));
        ++total.summaries;
    }
    total.events += counts;
    return out;
}

std::map<std::string, PayloadSummarizer::EnvironmentCounts> PayloadSummarizer::counts() const {
    std::lock_guard lock(m_mutex);
    return m_counts;
}

} // namespace evrelay
