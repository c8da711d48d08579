#include "common_options.hpp"

#include "core/upstream/ca_bundle.hpp"
#include "core/upstream/proxy_settings.hpp"
#include "core/util/byte_size.hpp"
#include "core/util/duration.hpp"

namespace evrelay {

std::chrono::milliseconds duration_flag(const std::string& flag, const std::string& text) {
    auto value = util::parse_duration(text);
    if (!value) {
        throw CLI::ValidationError(flag, value.error().message);
    }
    return *value;
}

std::size_t size_flag(const std::string& flag, const std::string& text) {
    auto value = util::parse_byte_size(text);
    if (!value) {
        throw CLI::ValidationError(flag, value.error().message);
    }
    return *value;
}

void add_upstream_options(CLI::App& command, UpstreamOptions& options) {
    command
        .add_option("--config", options.config_file,
                    "Relay Proxy configuration file (environments, events URI, proxy)")
        ->check(CLI::ExistingFile);
    command.add_option("--env", options.credentials.env_name,
                       "Send everything to this environment of --config");
    command.add_option("--sdk-key", options.credentials.sdk_key, "SDK key (server events)");
    command.add_option("--mobile-key", options.credentials.mobile_key,
                       "Mobile key (mobile events)");
    command.add_option("--env-id", options.credentials.env_id, "Client-side ID (js events)");
    command.add_option("--events-uri", options.events_uri,
                       "Upstream events URI (default https://events.launchdarkly.com)");
    command
        .add_option("--retries", options.retries,
                    "Attempts after the first for a recoverable failure (default 1, as Relay)")
        ->check(CLI::Range(0, 100));
    command.add_option("--retry-delay", options.retry_delay,
                       "Delay before the first retry; doubled with jitter after (default 1s)");
    command.add_flag("--no-gzip", options.no_gzip, "Send payloads uncompressed");
    command
        .add_option("--gzip-level", options.gzip_level, "gzip level 1-12 (libdeflate; default 6)")
        ->check(CLI::Range(1, 12));
    command.add_option("--proxy", options.proxy,
                       "Outbound proxy URL, credentials percent-encoded in it; replaces [Proxy] "
                       "(default: [Proxy] url, else HTTPS_PROXY/NO_PROXY)");
    command
        .add_option("--ca-cert", options.ca_cert,
                    "CA file trusted besides the system's (replaces [Proxy] caCertFiles)")
        ->check(CLI::ExistingFile);
    command.add_option("--request-timeout", options.request_timeout,
                       "Timeout of one upstream attempt (default 30s)");
    command
        .add_option("--max-connections", options.max_connections,
                    "Upstream requests in flight at once (default 16)")
        ->check(CLI::Range(1, 1024));
}

void add_batch_options(CLI::App& command, BatchOptions& options,
                       const std::string& max_pending_default) {
    options.max_pending = max_pending_default;
    command.add_option("--batch-size", options.batch_size, "Events per payload (default 1000)")
        ->check(CLI::Range(1, 10'000'000));
    command.add_option("--batch-bytes", options.batch_bytes,
                       "Uncompressed bytes per payload (default 4MiB)");
    command.add_option("--max-pending", options.max_pending,
                       "Bytes of events queued or in flight at most (default " +
                           max_pending_default + ")");
}

UpstreamFlags upstream_flags(const UpstreamOptions& options) {
    UpstreamFlags flags;
    flags.config_file = options.config_file;
    flags.credentials = options.credentials;
    flags.events_uri = options.events_uri;
    flags.proxy = options.proxy;
    flags.ca_cert = options.ca_cert;
    return flags;
}

UpstreamSettings resolve_upstream_settings(const UpstreamOptions& options) {
    auto resolved = load_upstream_config(upstream_flags(options));
    if (!resolved) {
        throw ConfigError(resolved.error().message);
    }
    UpstreamSettings settings;
    settings.config = std::move(resolved->config);
    settings.environments = std::move(resolved->environments);
    SenderOptions& sender = settings.sender;
    sender.events_uri = std::move(resolved->events_uri);
    sender.proxy = std::move(resolved->proxy);
    sender.ca_cert_files = std::move(resolved->ca_cert_files);
    // Checked here so that a proxy or CA file that cannot work stops the start (exit 78), as
    // Relay refuses to start then; the sender would only fail every attempt.
    if (auto proxy = curl_proxy_for(sender.proxy); !proxy) {
        throw ConfigError(proxy.error().message);
    }
    if (!sender.ca_cert_files.empty()) {
        if (auto bundle = ca_bundle_with(sender.ca_cert_files); !bundle) {
            throw ConfigError(bundle.error().message);
        }
    }
    // Flags only: Relay's configuration has no say in these.
    sender.gzip = !options.no_gzip;
    sender.gzip_level = options.gzip_level;
    sender.retries = options.retries;
    sender.retry_delay = duration_flag("--retry-delay", options.retry_delay);
    sender.request_timeout = duration_flag("--request-timeout", options.request_timeout);
    sender.max_concurrent_requests = static_cast<std::size_t>(options.max_connections);
    return settings;
}

PublisherOptions resolve_publisher_options(const BatchOptions& options,
                                           std::size_t& max_pending_bytes) {
    PublisherOptions publisher;
    publisher.batch_size = options.batch_size;
    publisher.batch_bytes = size_flag("--batch-bytes", options.batch_bytes);
    max_pending_bytes = size_flag("--max-pending", options.max_pending);
    return publisher;
}

} // namespace evrelay
