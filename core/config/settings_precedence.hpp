#pragma once

#include "core/config/environment_resolution.hpp"
#include "core/config/relay_config.hpp"
#include "core/model/outbound_proxy.hpp"
#include "core/util/error.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace evrelay {

// SPEC §9: a setting comes from the command-line flag, else Relay's environment variable, else
// Relay's configuration file, else the default below. The functions here take what the flags
// gave as plain values (nullopt: the flag was not given; flag syntax is cli/'s business) and
// Relay's file and variables as read (relay_config.hpp).

// Relay's defaults.
inline constexpr int k_default_port = 8030;
inline constexpr std::chrono::milliseconds k_default_flush_interval{5000};
inline constexpr std::string_view k_default_events_uri = "https://events.launchdarkly.com";
inline constexpr std::size_t k_default_batch_size = 1000; // events per payload ([Events] capacity)
inline constexpr int k_default_prometheus_port = 8031;
inline constexpr std::chrono::milliseconds k_default_disconnected_status_time{60000};

// The flags of replay, serve and flush that Relay's configuration can also give.
struct UpstreamFlags {
    std::optional<std::string> config_file; // --config
    CredentialFlags credentials;            // --env, --sdk-key, --mobile-key, --env-id
    std::optional<std::string> events_uri;  // --events-uri
    std::optional<std::string> proxy;       // --proxy
    std::optional<std::string> ca_cert;     // --ca-cert
};

// Where and how payloads go upstream, and to which environments.
struct UpstreamConfig {
    RelayConfig config; // the file merged with the variables
    ResolvedEnvironments environments;
    std::string events_uri;
    // --proxy (a URL, with any credentials in it), else [Proxy] / PROXY_* field by field.
    OutboundProxy proxy;
    // CA files trusted besides the system's: --ca-cert, else every caCertFiles / PROXY_CA_CERTS
    // entry.
    std::vector<std::string> ca_cert_files;
};

// The file and the variables merged (variables win), each environment checked for a
// credential, then the flags applied. Errors are ErrorKind::config (also: ntlmAuth without a
// proxy URL, which Relay refuses too).
Result<UpstreamConfig> resolve_upstream_config(const UpstreamFlags& flags, const RelayConfig& file,
                                               const RelayConfig& variables);

// Reads flags.config_file (when given) and the process's variables, then resolves as above:
// what replay, serve and flush do at start-up, and serve again on SIGHUP. Errors are
// ErrorKind::config, or ErrorKind::io for a config file that cannot be read.
Result<UpstreamConfig> load_upstream_config(const UpstreamFlags& flags);

// The flags of serve that Relay's configuration can also give.
struct ServeFlags {
    std::optional<int> port;                                 // --port
    std::optional<std::chrono::milliseconds> flush_interval; // --flush-interval
    std::optional<std::size_t> batch_size;                   // --batch-size
    bool no_forward = false;                                 // --no-forward
    bool offline = false;                                    // --offline
    std::optional<std::string> tls_cert, tls_key;            // --tls-cert, --tls-key (both)
    std::optional<TlsVersion> tls_min_version;               // --tls-min-version
};

struct ServeConfig {
    int port = k_default_port;
    std::chrono::milliseconds flush_interval = k_default_flush_interval;
    std::size_t batch_size = k_default_batch_size; // --batch-size, else [Events] capacity
    // Whether events go upstream: --no-forward turns forwarding off whatever the configuration
    // says; otherwise [Events] sendEvents / USE_EVENTS (default true) decides.
    bool forward = true;
    bool forward_off_by_config = false; // sendEvents / USE_EVENTS is false (worth a log line)
    // Relay's offline mode: --offline, or [OfflineMode] fileDataSource / FILE_DATA_SOURCE set.
    bool offline = false;
    // HTTPS when both are set: --tls-cert/--tls-key, else [Main] tlsCert/tlsKey when tlsEnabled.
    std::string tls_cert, tls_key;
    // The oldest TLS version the listener accepts: 1.2 or 1.3 (evrelay never goes below 1.2).
    TlsVersion tls_min_version = TlsVersion::tls1_2;
    // How long deliveries may fail before /status reports the environments "disconnected".
    std::chrono::milliseconds disconnected_status_time = k_default_disconnected_status_time;
    // [Prometheus]: /metrics also on its own port; the prefix starts every metric name.
    bool prometheus = false;
    int prometheus_port = k_default_prometheus_port;
    std::string metric_prefix;
    // What the configuration asks for that serve does differently, one sentence each, for the
    // start-up log (warn level).
    std::vector<std::string> warnings;
};

// `config` is the file merged with the variables (UpstreamConfig::config). Fails with
// ErrorKind::invalid_input naming the flag for a flag value that cannot work (a zero
// --flush-interval), and with ErrorKind::config for a configuration that cannot work (tlsEnabled
// without tlsCert or tlsKey: the message names the missing keys).
Result<ServeConfig> resolve_serve_config(const ServeFlags& flags, const RelayConfig& config);

} // namespace evrelay
