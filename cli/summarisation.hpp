#pragma once

#include "core/flags/flag_store.hpp"
#include "core/inbound/status_report.hpp"
#include "core/model/environment.hpp"
#include "core/model/payload.hpp"
#include "core/pipeline/dispatcher.hpp"
#include "core/summary/payload_summarizer.hpp"
#include "core/summary/summary_hub.hpp"
#include "core/upstream/flag_data_poller.hpp"
#include "core/upstream/sender.hpp"

#include <CLI/CLI.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

namespace evrelay {

// The flags of SPEC §8's flag data, shared by serve, replay and flush.
struct FlagDataFlags {
    std::optional<std::string> flags_file;
    std::optional<std::string> base_uri;
    std::string poll_interval = "30s";
};

void add_flag_data_options(CLI::App& command, FlagDataFlags& options);

// The poller reaches LaunchDarkly as the sender does: same proxy, CA, timeouts, User-Agent.
FlagDataPollerOptions flag_poller_options(const SenderOptions& sender);

// When flag data is fetched without --flags: serve polls every environment from the start and
// then every interval (as Relay keeps its flag data current); replay and flush poll an
// environment once, when its first old-schema event comes (most runs have none and should not
// reach out to LaunchDarkly for nothing).
enum class FlagPolling { continuous, on_first_use };

// Summarisation as one command uses it (SPEC §8): the flag data (the --flags file, or polled
// from baseUri), the SummaryHub feeding the dispatcher, and the self-contained summarising of a
// payload that spool lines and preserved replay envelopes need. Built after the dispatcher;
// without one (flush) there is no hub, only summarise_payload().
class Summarisation {
  public:
    using UpstreamDate = std::function<std::optional<std::chrono::system_clock::time_point>()>;

    // Throws ConfigError (exit 78) when the --flags file cannot be read or parsed.
    Summarisation(const FlagDataFlags& flags, std::string base_uri_from_config,
                  FlagDataPollerOptions poller, const EnvironmentTable& environments,
                  Dispatcher* dispatcher, UpstreamDate upstream_date, FlagPolling polling);
    ~Summarisation();
    Summarisation(const Summarisation&) = delete;
    Summarisation& operator=(const Summarisation&) = delete;

    SummaryHub& hub() { return *m_hub; }
    FlagStore& flag_store() { return m_store; }
    // Publishes every pending summary: call before each Dispatcher::flush_all()/close_all().
    void flush_summaries() {
        if (m_hub) {
            m_hub->flush_summaries();
        }
    }
    // A payload of schema 1–2 or Unsummarized events becomes its schema-4 output followed by its
    // own summary, same payload ID (spool lines, replay --payload-ids preserve).
    void summarise_payload(Payload& payload);
    // SIGHUP: the --flags file is read again; on failure the old data is kept (logged).
    void reload();
    // What /status and /metrics say per environment (SPEC §8, issue 11 item 5).
    std::vector<SummarisationStatus> status(const std::vector<std::string>& env_names) const;

  private:
    std::shared_ptr<const FlagData> flag_data_for(const std::string& env_name);

    std::optional<std::string> m_flags_file;
    FlagStore m_store;
    const EnvironmentTable& m_environments;
    std::unique_ptr<FlagDataPoller> m_poller;
    FlagPolling m_polling;
    std::mutex m_mutex;
    std::set<std::string> m_polled_once; // on_first_use: environments already asked for
    std::set<std::string> m_warned_no_data;
    std::unique_ptr<SummaryHub> m_hub; // null without a dispatcher
    std::unique_ptr<PayloadSummarizer> m_payloads;
};

} // namespace evrelay
