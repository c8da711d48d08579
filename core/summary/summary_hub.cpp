#include "core/summary/summary_hub.hpp"

#include <utility>

namespace evrelay {

namespace {

constexpr int k_output_schema = 4; // SPEC §8: summarised output is sent as schema 4

} // namespace

SummaryHub::SummaryHub(Dispatcher& dispatcher, FlagDataSource flag_data,
                       UpstreamDateSource upstream_date, SummarizerOptions options, Clock clock)
    : m_dispatcher(dispatcher), m_flag_data(std::move(flag_data)),
      m_upstream_date(std::move(upstream_date)), m_options(options), m_clock(std::move(clock)) {
    if (!m_clock) {
        m_clock = [] { return std::chrono::system_clock::now(); };
    }
}

std::shared_ptr<SummaryHub::Entry> SummaryHub::entry_for(const std::string& env_name, SdkKind sdk,
                                                         const std::string& tags) {
    std::lock_guard lock(m_mutex);
    std::shared_ptr<Entry>& entry = m_entries[Key{env_name, sdk, tags}];
    if (!entry) {
        entry = std::make_shared<Entry>(m_options);
        entry->env_name = env_name;
        entry->sdk = sdk;
        entry->output = PayloadMetadata{k_output_schema, tags};
    }
    return entry;
}

void SummaryHub::record(const std::string& env_name, const SummarizeCounts& counts,
                        std::uint64_t summaries) {
    std::lock_guard lock(m_mutex);
    SummaryStats& stats = m_stats[env_name];
    stats.summarised_input += counts.input;
    stats.summary_events += summaries;
    stats.index_events += counts.index_out;
    stats.feature_events += counts.feature_out;
    stats.debug_events += counts.debug_out;
    stats.kept_events += counts.kept;
    stats.passed_unchanged += counts.passed_unreadable + counts.passed_unknown_kind;
    stats.duplicate_index += counts.duplicate_index;
}

PublishResult SummaryHub::publish(const std::string& env_name, SdkKind sdk,
                                  const PayloadMetadata& in,
                                  const std::vector<std::string_view>& events,
                                  const JsonValidator* validated) {
    const std::shared_ptr<const FlagData> flags = m_flag_data ? m_flag_data(env_name) : nullptr;
    const std::optional<TimePoint> upstream_date =
        m_upstream_date ? m_upstream_date() : std::nullopt;
    const TimePoint now = m_clock();
    std::vector<std::string> output;
    output.reserve(events.size());
    SummarizeCounts counts;
    PublishResult result;
    for (;;) {
        const std::shared_ptr<Entry> entry = entry_for(env_name, sdk, in.tags);
        std::lock_guard lock(entry->mutex);
        if (entry->retired) {
            continue; // flush_summaries() dropped it meanwhile: entry_for() makes a new one
        }
        entry->last_input = now;
        if (validated != nullptr && validated->parts().size() == events.size()) {
            for (const JsonPart& event : validated->parts()) {
                entry->summarizer.add(*validated, event, in.schema_version, flags.get(), now,
                                      upstream_date, output, counts);
            }
        } else {
            for (const std::string_view event : events) {
                entry->summarizer.add(event, in.schema_version, flags.get(), now, upstream_date,
                                      output, counts);
            }
        }
        if (!output.empty()) {
            const std::vector<std::string_view> views(output.begin(), output.end());
            result = m_dispatcher.publish(env_name, sdk, entry->output, views);
        }
        break;
    }
    record(env_name, counts, 0);
    return result;
}

void SummaryHub::flush_summaries() {
    std::vector<std::shared_ptr<Entry>> entries;
    {
        std::lock_guard lock(m_mutex);
        entries.reserve(m_entries.size());
        for (const auto& [key, entry] : m_entries) {
            entries.push_back(entry);
        }
    }
    const TimePoint now = m_clock();
    for (const std::shared_ptr<Entry>& entry : entries) {
        std::optional<std::string> summary;
        {
            std::unique_lock lock(entry->mutex, k_flush_lock_wait);
            if (!lock.owns_lock()) {
                continue; // busy for long: its summary goes with the next flush
            }
            summary = entry->summarizer.take_summary();
            if (summary) {
                m_dispatcher.publish(entry->env_name, entry->sdk, entry->output, {*summary});
            }
        }
        if (summary) {
            record(entry->env_name, SummarizeCounts{}, 1);
        }
    }

    std::lock_guard lock(m_mutex);
    for (auto it = m_entries.begin(); it != m_entries.end();) {
        const std::shared_ptr<Entry> entry = it->second; // outlives its lock below
        bool idle = false;
        {
            std::unique_lock entry_lock(entry->mutex, std::try_to_lock);
            idle = entry_lock.owns_lock() && !entry->summarizer.has_pending_summary() &&
                   now - entry->last_input >= m_options.context_keys_flush_interval;
            if (idle) {
                // A publish() that found this entry before the map's lock was taken sees the
                // mark and starts over with a new entry.
                entry->retired = true;
            }
        }
        it = idle ? m_entries.erase(it) : std::next(it);
    }
}

SummaryStats SummaryHub::stats(const std::string& env_name) const {
    std::lock_guard lock(m_mutex);
    const auto found = m_stats.find(env_name);
    return found == m_stats.end() ? SummaryStats{} : found->second;
}

std::map<std::string, SummaryStats> SummaryHub::all_stats() const {
    std::lock_guard lock(m_mutex);
    return m_stats;
}

std::size_t SummaryHub::summarizer_count() const {
    std::lock_guard lock(m_mutex);
    return m_entries.size();
}

} // namespace evrelay
