#pragma once

#include "core/config/settings_precedence.hpp"
#include "core/pipeline/publisher.hpp"
#include "core/upstream/sender.hpp"

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace evrelay {

// Flags shared by every subcommand that delivers upstream (replay, serve, flush). Plain fields
// with visible defaults; strings hold durations and sizes until validate() parses them, so that
// an error can name the flag.
struct UpstreamOptions {
    std::optional<std::string> config_file;
    CredentialFlags credentials;
    std::optional<std::string> events_uri;
    int retries = 1;
    std::string retry_delay = "1s";
    bool no_gzip = false;
    int gzip_level = 6;
    std::optional<std::string> proxy;
    std::optional<std::string> ca_cert;
    std::string request_timeout = "30s";
    int max_connections = 16;
};

struct BatchOptions {
    std::size_t batch_size = k_default_batch_size;
    std::string batch_bytes = "4MiB";
    std::string max_pending; // default chosen per command
};

void add_upstream_options(CLI::App& command, UpstreamOptions& options);
void add_batch_options(CLI::App& command, BatchOptions& options,
                       const std::string& max_pending_default);

// A duration or size flag's value; throws CLI::ValidationError naming the flag (exit 64).
std::chrono::milliseconds duration_flag(const std::string& flag, const std::string& text);
std::size_t size_flag(const std::string& flag, const std::string& text);

// The flags that Relay's configuration can also give, for core/config's precedence rules.
UpstreamFlags upstream_flags(const UpstreamOptions& options);

// What the flags, the environment variables and the config file say together (SPEC §9).
struct UpstreamSettings {
    RelayConfig config; // file merged with environment variables
    ResolvedEnvironments environments;
    SenderOptions sender;
};

// At start-up (SIGHUP uses load_upstream_config). Throws ConfigError (exit 78) for a bad config
// file or environment, CLI::ValidationError (exit 64) for a bad flag value.
UpstreamSettings resolve_upstream_settings(const UpstreamOptions& options);
PublisherOptions resolve_publisher_options(const BatchOptions& options,
                                           std::size_t& max_pending_bytes);

// A configuration problem found at start-up; main turns it into exit status 78.
struct ConfigError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

} // namespace evrelay
