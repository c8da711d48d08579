#include "core/config/relay_settings.hpp"

#include "core/util/ascii.hpp"
#include "core/util/duration.hpp"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace evrelay {

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    return util::iequals(a, b);
}

namespace {

std::string to_lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](char c) { return util::to_lower(c); });
    return out;
}

template <class T> std::optional<T> parse_unsigned(std::string_view text) {
    text = util::trim(text);
    T value{};
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc() || ptr != end) {
        return std::nullopt;
    }
    return value;
}

// The parsers of the table: each checks one kind of value; `what` names the key or variable.

Result<int> parse_port(std::string_view text, std::string_view what) {
    const auto value = parse_unsigned<unsigned>(text);
    if (!value || *value > 65535) {
        return make_error(ErrorKind::config,
                          fmt::format("{}: \"{}\" is not a port number (0-65535)", what, text));
    }
    return static_cast<int>(*value);
}

Result<std::size_t> parse_capacity(std::string_view text, std::string_view what) {
    const auto value = parse_unsigned<std::size_t>(text);
    if (!value || *value == 0) {
        return make_error(ErrorKind::config,
                          fmt::format("{}: \"{}\" is not a positive whole number", what, text));
    }
    return *value;
}

// util::parse_duration also takes Relay's older bare number of seconds.
Result<std::chrono::milliseconds> parse_positive_duration(std::string_view text,
                                                          std::string_view what) {
    auto value = util::parse_duration(util::trim(text));
    if (!value) {
        return make_error(ErrorKind::config, fmt::format("{}: \"{}\" is not a duration ({})", what,
                                                         text, value.error().message));
    }
    // A zero flush interval would make the publisher flush in a busy loop; a zero
    // disconnectedStatusTime would report every passing failure.
    if (value->count() <= 0) {
        return make_error(ErrorKind::config,
                          fmt::format("{}: \"{}\" must be longer than zero", what, text));
    }
    return *value;
}

// gcfg and git accept these spellings; Relay documents only true/false/1/0 and treats an empty
// value as false, which this keeps.
Result<bool> parse_boolean(std::string_view text, std::string_view what) {
    const auto lower = to_lower(util::trim(text));
    if (lower == "true" || lower == "yes" || lower == "on" || lower == "1") {
        return true;
    }
    if (lower == "false" || lower == "no" || lower == "off" || lower == "0" || lower.empty()) {
        return false;
    }
    return make_error(
        ErrorKind::config,
        fmt::format("{}: \"{}\" is not a boolean (true/false, yes/no, on/off, 1/0)", what, text));
}

// Relay's forms of tlsMinVersion (go-configtypes' OptTLSVersion).
Result<TlsVersion> parse_tls_version(std::string_view text, std::string_view what) {
    const auto trimmed = util::trim(text);
    for (const auto version :
         {TlsVersion::tls1_0, TlsVersion::tls1_1, TlsVersion::tls1_2, TlsVersion::tls1_3}) {
        if (trimmed == to_string(version)) {
            return version;
        }
    }
    return make_error(
        ErrorKind::config,
        fmt::format("{}: \"{}\" is not a TLS version (1.0, 1.1, 1.2 or 1.3)", what, text));
}

// Prometheus metric names are [a-zA-Z_:][a-zA-Z0-9_:]*; the prefix starts every name.
Result<std::optional<std::string>> parse_metric_prefix(std::string_view text,
                                                       std::string_view what) {
    const auto trimmed = util::trim(text);
    if (trimmed.empty()) {
        return std::nullopt;
    }
    const auto allowed = [](char c, bool first) {
        const bool letter =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        return letter || (!first && c >= '0' && c <= '9');
    };
    for (std::size_t i = 0; i < trimmed.size(); ++i) {
        if (!allowed(trimmed[i], i == 0)) {
            return make_error(ErrorKind::config,
                              fmt::format("{}: \"{}\" cannot start a Prometheus metric name "
                                          "(letters, digits, '_' and ':'; not a digit first)",
                                          what, text));
        }
    }
    return std::string(trimmed);
}

// An empty string means "not set", so that `eventsUri =` falls back to the default.
Result<std::optional<std::string>> parse_optional_text(std::string_view text, std::string_view) {
    if (text.empty()) {
        return std::nullopt;
    }
    return std::string(text);
}

// Credentials and CORS values travel in HTTP headers (Authorization, the CORS answers) and
// paths: a control character in one — from an escape such as "\n", or a stray byte — would end
// the header early, so it is refused here, where the key or variable can be named (found by
// tests/fuzz/fuzz_relay_config). The value itself is not shown: it may be a secret.
Result<void> refuse_control_characters(std::string_view text, std::string_view what) {
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto byte = static_cast<unsigned char>(text[i]);
        if (byte < 0x20 || byte == 0x7f) {
            return make_error(ErrorKind::config,
                              fmt::format("{}: control character 0x{:02x} at byte {} (this value "
                                          "is sent in HTTP headers)",
                                          what, byte, i));
        }
    }
    return {};
}

// A credential: kept as written, even empty (check_relay_config then finds an environment
// without one).
Result<std::string> parse_credential(std::string_view text, std::string_view what) {
    if (auto refused = refuse_control_characters(text, what); !refused) {
        return tl::unexpected(refused.error());
    }
    return std::string(text);
}

// Relay's lists (allowedOrigin, caCertFiles, ...) may be written "a,b"; empty items are dropped
// so that a trailing comma is harmless.
Result<std::vector<std::string>> parse_list(std::string_view text, std::string_view) {
    std::vector<std::string> list;
    while (!text.empty()) {
        const auto comma = text.find(',');
        const auto item = util::trim(text.substr(0, comma));
        if (!item.empty()) {
            list.emplace_back(item);
        }
        if (comma == std::string_view::npos) {
            break;
        }
        text.remove_prefix(comma + 1);
    }
    return list;
}

// allowedOrigin, allowedHeader: a list whose items go into the CORS answers' headers.
Result<std::vector<std::string>> parse_header_list(std::string_view text, std::string_view what) {
    if (auto refused = refuse_control_characters(text, what); !refused) {
        return tl::unexpected(refused.error());
    }
    return parse_list(text, what);
}

template <class T> struct IsVector : std::false_type {};
template <class T> struct IsVector<std::vector<T>> : std::true_type {};

template <class Member, class Owner> Owner owner_of(Member Owner::*);

// The field `field` (a pointer to a member of RelayConfig or of Environment) of a target.
template <auto field> auto& field_of(SettingTarget target) {
    using Owner = decltype(owner_of(field));
    if constexpr (std::is_same_v<Owner, RelayConfig>) {
        return target.config.*field;
    } else {
        static_assert(std::is_same_v<Owner, Environment>);
        return target.environment->*field;
    }
}

template <auto field, auto parse>
Result<void> store(SettingTarget target, std::string_view text, std::string_view what) {
    auto value = parse(text, what);
    if (!value) {
        return tl::unexpected(value.error());
    }
    auto& destination = field_of<field>(target);
    if constexpr (IsVector<std::remove_reference_t<decltype(destination)>>::value) {
        destination.insert(destination.end(), std::make_move_iterator(value->begin()),
                           std::make_move_iterator(value->end()));
    } else {
        destination = std::move(*value);
    }
    return {};
}

template <auto field> void reset(SettingTarget target) {
    field_of<field>(target) = {};
}

// An ignored setting is recorded under the name it was given by, once; a boolean one only when
// it asks for something (false, Relay's default, asks for nothing). Its value is not checked:
// evrelay does nothing with it either way.
template <IgnoredBecause reason, bool boolean>
Result<void> record_ignored(SettingTarget target, std::string_view text, std::string_view what) {
    if (boolean) {
        if (const auto value = parse_boolean(text, what); value && !*value) {
            return {};
        }
    }
    auto& ignored = target.config.ignored;
    const bool known =
        std::any_of(ignored.begin(), ignored.end(),
                    [&](const IgnoredSetting& setting) { return setting.name == what; });
    if (!known) {
        ignored.push_back(IgnoredSetting{std::string(what), reason});
    }
    return {};
}

void reset_nothing(SettingTarget) {}

// One row of the table: the type of `field` says whether it is per environment and what a bare
// key means; `parse` must give what the field holds.
template <auto field, auto parse>
constexpr RelaySetting setting(std::string_view section, std::string_view key,
                               std::string_view variable) {
    using Owner = decltype(owner_of(field));
    using Field = std::remove_reference_t<decltype(field_of<field>(std::declval<SettingTarget>()))>;
    BareKey bare = BareKey::needs_value;
    if constexpr (std::is_same_v<Field, std::optional<bool>>) {
        bare = BareKey::means_true;
    } else if constexpr (IsVector<Field>::value) {
        bare = BareKey::empties;
    }
    return RelaySetting{.section = section,
                        .key = key,
                        .variable = variable,
                        .per_environment = std::is_same_v<Owner, Environment>,
                        .variable_is_prefix = std::is_same_v<Owner, Environment>,
                        .bare = bare,
                        .store = &store<field, parse>,
                        .reset = &reset<field>};
}

// A row evrelay ignores: written bare or with any value, it is recorded with its reason.
template <IgnoredBecause reason, bool boolean = false>
constexpr RelaySetting ignored(std::string_view section, std::string_view key,
                               std::string_view variable, bool variable_is_prefix = false) {
    return RelaySetting{.section = section,
                        .key = key,
                        .variable = variable,
                        .per_environment = section == k_environment_section,
                        .variable_is_prefix =
                            variable_is_prefix || section == k_environment_section,
                        .bare = BareKey::means_true,
                        .ignored_because = reason,
                        .store = &record_ignored<reason, boolean>,
                        .reset = &reset_nothing};
}

using enum IgnoredBecause;
constexpr bool k_boolean = true;

// Relay's names (SPEC §9): a file key is written under its [Section]; the variable of an
// environment's setting is its prefix followed by the environment's name, verbatim (underscores
// and dashes included).
constexpr RelaySetting k_settings[] = {
    setting<&RelayConfig::port, parse_port>("Main", "port", "PORT"),
    setting<&RelayConfig::tls_enabled, parse_boolean>("Main", "tlsEnabled", "TLS_ENABLED"),
    setting<&RelayConfig::tls_cert, parse_optional_text>("Main", "tlsCert", "TLS_CERT"),
    setting<&RelayConfig::tls_key, parse_optional_text>("Main", "tlsKey", "TLS_KEY"),
    setting<&RelayConfig::tls_min_version, parse_tls_version>("Main", "tlsMinVersion",
                                                              "TLS_MIN_VERSION"),
    setting<&RelayConfig::disconnected_status_time, parse_positive_duration>(
        "Main", "disconnectedStatusTime", "DISCONNECTED_STATUS_TIME"),
    ignored<flag_delivery>("Main", "streamUri", "STREAM_URI"),
    // Where flag data for summarising is polled (SPEC §8).
    setting<&RelayConfig::base_uri, parse_optional_text>("Main", "baseUri", "BASE_URI"),
    ignored<flag_delivery>("Main", "clientSideBaseUri", "CLIENT_SIDE_BASE_URI"),
    ignored<flag_delivery>("Main", "initTimeout", "INIT_TIMEOUT"),
    ignored<flag_delivery>("Main", "heartbeatInterval", "HEARTBEAT_INTERVAL"),
    ignored<flag_delivery>("Main", "maxClientConnectionTime", "MAX_CLIENT_CONNECTION_TIME"),
    ignored<flag_delivery, k_boolean>("Main", "ignoreConnectionErrors", "IGNORE_CONNECTION_ERRORS"),
    ignored<flag_delivery, k_boolean>("Main", "exitAlways", "EXIT_ALWAYS"),
    ignored<flag_delivery, k_boolean>("Main", "bigSegmentsStaleAsDegraded",
                                      "BIG_SEGMENTS_STALE_AS_DEGRADED"),
    ignored<flag_delivery>("Main", "bigSegmentsStaleThreshold", "BIG_SEGMENTS_STALE_THRESHOLD"),
    ignored<exit_on_error, k_boolean>("Main", "exitOnError", "EXIT_ON_ERROR"),
    ignored<usage_metrics>("Main", "disableInternalUsageMetrics", "DISABLE_INTERNAL_USAGE_METRICS"),
    ignored<log_level>("Main", "logLevel", "LOG_LEVEL"),

    setting<&RelayConfig::send_events, parse_boolean>("Events", "sendEvents", "USE_EVENTS"),
    setting<&RelayConfig::events_uri, parse_optional_text>("Events", "eventsUri", "EVENTS_HOST"),
    setting<&RelayConfig::flush_interval, parse_positive_duration>("Events", "flushInterval",
                                                                   "EVENTS_FLUSH_INTERVAL"),
    setting<&RelayConfig::capacity, parse_capacity>("Events", "capacity", "EVENTS_CAPACITY"),
    ignored<inline_users, k_boolean>("Events", "inlineUsers", "EVENTS_INLINE_USERS"),
    ignored<sampling>("Events", "samplingInterval", "EVENTS_SAMPLING_INTERVAL"),

    setting<&Environment::sdk_key, parse_credential>(k_environment_section, "sdkKey", "LD_ENV_"),
    setting<&Environment::mobile_key, parse_credential>(k_environment_section, "mobileKey",
                                                        "LD_MOBILE_KEY_"),
    setting<&Environment::env_id, parse_credential>(k_environment_section, "envId",
                                                    "LD_CLIENT_SIDE_ID_"),
    setting<&Environment::allowed_origins, parse_header_list>(
        k_environment_section, "allowedOrigin", "LD_ALLOWED_ORIGIN_"),
    setting<&Environment::allowed_headers, parse_header_list>(
        k_environment_section, "allowedHeader", "LD_ALLOWED_HEADER_"),
    ignored<flag_delivery, k_boolean>(k_environment_section, "secureMode", "LD_SECURE_MODE_"),
    ignored<flag_delivery>(k_environment_section, "ttl", "LD_TTL_"),
    ignored<data_store>(k_environment_section, "prefix", "LD_PREFIX_"),
    ignored<data_store>(k_environment_section, "tableName", "LD_TABLE_NAME_"),
    ignored<log_level>(k_environment_section, "logLevel", "LD_LOG_LEVEL_"),

    setting<&RelayConfig::proxy_url, parse_optional_text>("Proxy", "url", "PROXY_URL"),
    setting<&RelayConfig::proxy_user, parse_optional_text>("Proxy", "user", "PROXY_AUTH_USER"),
    setting<&RelayConfig::proxy_password, parse_optional_text>("Proxy", "password",
                                                               "PROXY_AUTH_PASSWORD"),
    setting<&RelayConfig::proxy_domain, parse_optional_text>("Proxy", "domain",
                                                             "PROXY_AUTH_DOMAIN"),
    setting<&RelayConfig::proxy_ntlm_auth, parse_boolean>("Proxy", "ntlmAuth", "PROXY_AUTH_NTLM"),
    setting<&RelayConfig::ca_cert_files, parse_list>("Proxy", "caCertFiles", "PROXY_CA_CERTS"),

    setting<&RelayConfig::prometheus_enabled, parse_boolean>("Prometheus", "enabled",
                                                             "USE_PROMETHEUS"),
    setting<&RelayConfig::prometheus_port, parse_port>("Prometheus", "port", "PROMETHEUS_PORT"),
    setting<&RelayConfig::prometheus_prefix, parse_metric_prefix>("Prometheus", "prefix",
                                                                  "PROMETHEUS_PREFIX"),

    // Relay's offline mode: the archive of flag data is not read, but its presence means what
    // it means to Relay's event endpoints — accept and discard (serve --offline).
    setting<&RelayConfig::offline_file_data_source, parse_optional_text>(
        "OfflineMode", "fileDataSource", "FILE_DATA_SOURCE"),
    ignored<auto_config>("OfflineMode", "envDatastorePrefix", "ENV_DATASTORE_PREFIX"),
    ignored<auto_config>("OfflineMode", "envDatastoreTableName", "ENV_DATASTORE_TABLE_NAME"),
    ignored<auto_config>("OfflineMode", "envAllowedOrigin", "ENV_ALLOWED_ORIGIN"),
    ignored<auto_config>("OfflineMode", "envAllowedHeader", "ENV_ALLOWED_HEADER"),

    ignored<auto_config>("AutoConfig", "key", "AUTO_CONFIG_KEY"),
    ignored<auto_config>("AutoConfig", "envDatastorePrefix", "ENV_DATASTORE_PREFIX"),
    ignored<auto_config>("AutoConfig", "envDatastoreTableName", "ENV_DATASTORE_TABLE_NAME"),
    ignored<auto_config>("AutoConfig", "envAllowedOrigin", "ENV_ALLOWED_ORIGIN"),
    ignored<auto_config>("AutoConfig", "envAllowedHeader", "ENV_ALLOWED_HEADER"),

    ignored<data_store, k_boolean>("Redis", "", "USE_REDIS"),
    ignored<data_store>("Redis", "host", "REDIS_HOST"),
    ignored<data_store>("Redis", "port", "REDIS_PORT"),
    ignored<data_store>("Redis", "url", "REDIS_URL"),
    ignored<data_store, k_boolean>("Redis", "tls", "REDIS_TLS"),
    ignored<data_store>("Redis", "password", "REDIS_PASSWORD"),
    ignored<data_store>("Redis", "localTtl", "CACHE_TTL"),
    ignored<data_store, k_boolean>("DynamoDB", "enabled", "USE_DYNAMODB"),
    ignored<data_store>("DynamoDB", "tableName", "DYNAMODB_TABLE"),
    ignored<data_store>("DynamoDB", "url", "DYNAMODB_URL"),
    ignored<data_store>("DynamoDB", "localTtl", "CACHE_TTL"),
    ignored<data_store, k_boolean>("Consul", "", "USE_CONSUL"),
    ignored<data_store>("Consul", "host", "CONSUL_HOST"),
    ignored<data_store>("Consul", "token", "CONSUL_TOKEN"),
    ignored<data_store>("Consul", "tokenFile", "CONSUL_TOKEN_FILE"),
    ignored<data_store>("Consul", "localTtl", "CACHE_TTL"),

    ignored<exporter, k_boolean>("Datadog", "enabled", "USE_DATADOG"),
    ignored<exporter>("Datadog", "statsAddr", "DATADOG_STATS_ADDR"),
    ignored<exporter>("Datadog", "traceAddr", "DATADOG_TRACE_ADDR"),
    ignored<exporter>("Datadog", "tag", "DATADOG_TAG_", true),
    ignored<exporter>("Datadog", "prefix", "DATADOG_PREFIX"),
    ignored<exporter, k_boolean>("Stackdriver", "enabled", "USE_STACKDRIVER"),
    ignored<exporter>("Stackdriver", "projectID", "STACKDRIVER_PROJECT_ID"),
    ignored<exporter>("Stackdriver", "prefix", "STACKDRIVER_PREFIX"),
    ignored<exporter>("OpenCensus", "", ""),
};

} // namespace

std::span<const RelaySetting> relay_settings() {
    return k_settings;
}

} // namespace evrelay
