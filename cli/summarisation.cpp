#include "summarisation.hpp"

#include "common_options.hpp"

#include "core/flags/flag_file.hpp"
#include "core/json/json_scan.hpp"

#include <spdlog/spdlog.h>

#include <utility>

namespace evrelay {

void add_flag_data_options(CLI::App& command, FlagDataFlags& options) {
    command
        .add_option("--flags", options.flags_file,
                    "Flag data for summarising old-schema events: the SDKs' flag-data JSON "
                    "({\"flags\":{…},\"segments\":{…}}); re-read on SIGHUP. Without it, flag data "
                    "is polled from --base-uri")
        ->check(CLI::ExistingFile);
    command.add_option("--base-uri", options.base_uri,
                       "Where flag data is polled from without --flags: GET BASE/sdk/latest-all "
                       "(default [Main] baseUri, else https://sdk.launchdarkly.com)");
    command.add_option("--flags-poll-interval", options.poll_interval,
                       "How often flag data is polled without --flags (default 30s)");
}

FlagDataPollerOptions flag_poller_options(const SenderOptions& sender) {
    FlagDataPollerOptions poller;
    poller.user_agent = sender.user_agent;
    poller.connect_timeout = sender.connect_timeout;
    poller.request_timeout = sender.request_timeout;
    poller.proxy = sender.proxy;
    poller.ca_cert_files = sender.ca_cert_files;
    return poller;
}

namespace {

std::string label_of(const Environment& environment) {
    return environment.name.empty() ? environment.env_id : environment.name;
}

} // namespace

Summarisation::Summarisation(const FlagDataFlags& flags, std::string base_uri_from_config,
                             FlagDataPollerOptions poller, const EnvironmentTable& environments,
                             Dispatcher* dispatcher, UpstreamDate upstream_date,
                             FlagPolling polling)
    : m_flags_file(flags.flags_file), m_environments(environments), m_polling(polling) {
    if (m_flags_file) {
        Result<std::shared_ptr<const FlagData>> data = load_flag_file(*m_flags_file);
        if (!data) {
            throw ConfigError("--flags: " + data.error().message);
        }
        spdlog::debug("flag data: {} flag(s) from {}", (*data)->flags.size(), *m_flags_file);
        m_store.set_shared(std::move(*data), "file " + *m_flags_file,
                           std::chrono::system_clock::now());
    } else {
        // Precedence as every setting (SPEC §9): the flag, then [Main] baseUri / BASE_URI.
        if (flags.base_uri) {
            poller.base_uri = *flags.base_uri;
        } else if (!base_uri_from_config.empty()) {
            poller.base_uri = std::move(base_uri_from_config);
        }
        poller.interval = duration_flag("--flags-poll-interval", flags.poll_interval);
        if (poller.interval < std::chrono::seconds(1)) {
            throw CLI::ValidationError("--flags-poll-interval", "must be at least 1s");
        }
        m_poller = std::make_unique<FlagDataPoller>(std::move(poller), m_store, [this] {
            std::vector<FlagPollTarget> targets;
            for (const Environment& environment : m_environments.all()) {
                targets.push_back(FlagPollTarget{label_of(environment), environment.sdk_key});
            }
            return targets;
        });
        if (m_polling == FlagPolling::continuous) {
            m_poller->start();
        }
    }
    auto flag_data = [this](const std::string& env_name) { return flag_data_for(env_name); };
    if (dispatcher != nullptr) {
        m_hub = std::make_unique<SummaryHub>(*dispatcher, flag_data, upstream_date);
    }
    m_payloads = std::make_unique<PayloadSummarizer>(flag_data, std::move(upstream_date));
}

Summarisation::~Summarisation() {
    if (m_poller) {
        m_poller->stop();
    }
}

std::shared_ptr<const FlagData> Summarisation::flag_data_for(const std::string& env_name) {
    std::shared_ptr<const FlagData> data = m_store.get(env_name);
    if (!data && m_poller && m_polling == FlagPolling::on_first_use) {
        bool first = false;
        {
            std::lock_guard lock(m_mutex);
            first = m_polled_once.insert(env_name).second;
        }
        if (first) {
            m_poller->poll_environment(env_name);
            data = m_store.get(env_name);
        }
    }
    if (!data) {
        std::lock_guard lock(m_mutex);
        if (m_warned_no_data.insert(env_name).second) {
            spdlog::warn("summariser: no flag data for environment {} yet; its evaluations are "
                         "counted as unknown flags until there is",
                         env_name);
        }
    }
    return data;
}

void Summarisation::summarise_payload(Payload& payload) {
    const std::optional<std::vector<std::string_view>> events = array_element_spans(payload.body);
    if (!events) {
        return; // not an array: sent as it is (spool and capture lines are validated arrays)
    }
    std::vector<std::string> output =
        m_payloads->summarize(payload.env_name, payload.sdk, payload.metadata, *events);
    std::vector<std::string_view> views(output.begin(), output.end());
    payload.body = join_events(views);
    payload.event_count = output.size();
    payload.metadata.schema_version = 4;
    payload.metadata.unsummarized = false;
}

void Summarisation::reload() {
    if (!m_flags_file) {
        return;
    }
    Result<std::shared_ptr<const FlagData>> data = load_flag_file(*m_flags_file);
    if (!data) {
        spdlog::error("flag data: SIGHUP: {}; keeping the old flag data", data.error().message);
        m_store.set_shared_error(data.error().message);
        return;
    }
    spdlog::info("flag data: SIGHUP: {} flag(s) read from {}", (*data)->flags.size(),
                 *m_flags_file);
    m_store.set_shared(std::move(*data), "file " + *m_flags_file, std::chrono::system_clock::now());
}

std::vector<SummarisationStatus>
Summarisation::status(const std::vector<std::string>& env_names) const {
    const auto hub_stats = m_hub ? m_hub->all_stats() : std::map<std::string, SummaryStats>{};
    const auto payload_counts = m_payloads->counts();
    const auto now = std::chrono::system_clock::now();
    std::vector<SummarisationStatus> statuses;
    for (const std::string& env : env_names) {
        SummarisationStatus status;
        status.env = env;
        if (auto it = hub_stats.find(env); it != hub_stats.end()) {
            status.input_events += it->second.summarised_input;
            status.summary_events += it->second.summary_events;
            status.index_events += it->second.index_events;
            status.feature_events += it->second.feature_events;
            status.debug_events += it->second.debug_events;
        }
        if (auto it = payload_counts.find(env); it != payload_counts.end()) {
            status.input_events += it->second.events.input;
            status.summary_events += it->second.summaries;
            status.index_events += it->second.events.index_out;
            status.feature_events += it->second.events.feature_out;
            status.debug_events += it->second.events.debug_out;
        }
        const FlagDataStatus flags = m_store.status(env);
        status.flag_data_source = flags.source;
        status.flag_data_loaded = flags.loaded;
        status.flag_count = flags.flag_count;
        if (flags.updated) {
            status.flag_data_age_seconds =
                std::chrono::duration<double>(now - *flags.updated).count();
        }
        status.flag_data_error = flags.last_error;
        statuses.push_back(std::move(status));
    }
    return statuses;
}

} // namespace evrelay
