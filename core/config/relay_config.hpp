#pragma once

#include "core/model/environment.hpp"
#include "core/util/error.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace evrelay {

// Relay's tlsMinVersion values ("1.0" … "1.3").
enum class TlsVersion { tls1_0, tls1_1, tls1_2, tls1_3 };
std::string_view to_string(TlsVersion version); // "1.2"

// Why evrelay does not act on a Relay setting (the reasons of relay_settings.hpp's table);
// ignored_settings() names each setting given under one warn-level line per reason.
enum class IgnoredBecause {
    honoured,      // not ignored: evrelay acts on it
    flag_delivery, // streams, polling, evaluation, big segments: Relay's flag side
    exit_on_error, // evrelay connects to nothing at start-up
    usage_metrics, // evrelay sends no usage metrics of its own
    log_level,     // evrelay's log level is the global --log-level
    data_store,    // [Redis], [DynamoDB], [Consul], prefix, tableName
    exporter,      // [Datadog], [Stackdriver], [OpenCensus]
    auto_config,   // [AutoConfig], [OfflineMode]: Relay Enterprise's environment sources
    inline_users,  // schema-4 output has no inline users
    sampling,      // Relay 5's samplingInterval
    unknown,       // not a Relay 6 setting at all (a typo?)
};

// A setting the configuration gave that evrelay does not act on: its name as given ("[Redis]
// host", "[Environment \"prod\"] secureMode", "LD_PREFIX_prod") and why.
struct IgnoredSetting {
    std::string name;
    IgnoredBecause reason = IgnoredBecause::unknown;
    bool operator==(const IgnoredSetting&) const = default;
};

// What the Relay Proxy's configuration file and environment variables can say (SPEC §9).
// Every field is optional so that sources can be layered: flags > environment > file > defaults.
struct RelayConfig {
    std::optional<int> port;
    std::optional<bool> tls_enabled;
    std::optional<std::string> tls_cert;
    std::optional<std::string> tls_key;
    std::optional<TlsVersion> tls_min_version;
    std::optional<std::chrono::milliseconds> disconnected_status_time;
    std::optional<bool> send_events;
    std::optional<std::string> events_uri;
    std::optional<std::string> base_uri; // [Main] baseUri: where flag data is polled (SPEC §8)
    std::optional<std::chrono::milliseconds> flush_interval;
    std::optional<std::size_t> capacity;
    std::optional<std::string> proxy_url;
    std::optional<std::string> proxy_user;
    std::optional<std::string> proxy_password;
    std::optional<std::string> proxy_domain;
    std::optional<bool> proxy_ntlm_auth;
    std::vector<std::string> ca_cert_files;
    std::optional<bool> prometheus_enabled;
    std::optional<int> prometheus_port;
    std::optional<std::string> prometheus_prefix;
    std::optional<std::string> offline_file_data_source; // [OfflineMode] fileDataSource
    std::vector<Environment> environments;               // in file order
    std::vector<IgnoredSetting> ignored; // in the order given (file, then variables)

    bool operator==(const RelayConfig&) const = default;
};

// The keys of the file and the variables — those evrelay honours, how each is parsed and where
// it goes, and those it ignores, with the reason — are one table: relay_settings.hpp.

// Reads Relay's git-config style file (util::GcfgReader) through that table. A key of a section
// whose every setting is ignored takes that section's reason; any other key or section Relay 6
// does not have is recorded as IgnoredBecause::unknown. Errors name the file and line.
Result<RelayConfig> read_relay_config_file(const std::string& path);
Result<RelayConfig> parse_relay_config(std::string_view text, const std::string& source_name);

// Reads Relay's variables through the same table (PORT, TLS_ENABLED, USE_EVENTS, LD_ENV_<name>,
// PROXY_URL, PROXY_AUTH_NTLM, USE_PROMETHEUS, …; ignored ones such as REDIS_HOST or LD_PREFIX_<name> are
// recorded in `ignored`). An empty variable counts as unset. `getenv` is injectable for tests;
// `names` lists the variable names present (for the LD_*_<name> families). Environments come
// out sorted by name; they are not checked for credentials here (see check_relay_config).
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
Result<RelayConfig> relay_config_from_environment(const std::vector<std::string>& names,
                                                  const EnvLookup& getenv);
Result<RelayConfig> relay_config_from_process_environment();

// `over` wins where it sets a field; environments are merged by name, field by field.
RelayConfig merge_relay_config(RelayConfig base, const RelayConfig& over);

// Checks what only the merged result can show: every environment has at least one credential
// (the variables may give an environment its origins while the file gives its key).
Result<void> check_relay_config(const RelayConfig& config);

} // namespace evrelay
