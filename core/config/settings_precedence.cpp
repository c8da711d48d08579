#include "core/config/settings_precedence.hpp"

#include <spdlog/fmt/fmt.h>
#include <spdlog/fmt/ranges.h>

#include <utility>

namespace evrelay {

namespace {

// The flag if given, else the configuration's value (the variables' or the file's), else the
// default.
template <class T, class U>
T pick(const std::optional<T>& flag, const std::optional<U>& configured, T fallback) {
    if (flag) {
        return *flag;
    }
    if (configured) {
        return T(*configured);
    }
    return fallback;
}

// The listener's TLS (SPEC §10): the flags, else Relay's [Main] tlsEnabled with tlsCert and
// tlsKey. Relay serves plain HTTP when tlsEnabled is false whatever tlsCert says; so does evrelay,
// but says so.
Result<void> resolve_tls(const ServeFlags& flags, const RelayConfig& config,
                         ServeConfig& resolved) {
    if (flags.tls_cert && flags.tls_key) {
        resolved.tls_cert = *flags.tls_cert;
        resolved.tls_key = *flags.tls_key;
    } else if (config.tls_enabled.value_or(false)) {
        std::vector<std::string_view> missing;
        if (!config.tls_cert) {
            missing.emplace_back("tlsCert (TLS_CERT)");
        }
        if (!config.tls_key) {
            missing.emplace_back("tlsKey (TLS_KEY)");
        }
        if (!missing.empty()) {
            return make_error(ErrorKind::config,
                              fmt::format("[Main] tlsEnabled (TLS_ENABLED) is true but {} {} not "
                                          "set: name the PEM file(s), or give --tls-cert and "
                                          "--tls-key",
                                          fmt::join(missing, " and "),
                                          missing.size() == 1 ? "is" : "are"));
        }
        resolved.tls_cert = *config.tls_cert;
        resolved.tls_key = *config.tls_key;
    } else if (config.tls_cert || config.tls_key) {
        resolved.warnings.emplace_back(
            "[Main] tlsCert/tlsKey (TLS_CERT/TLS_KEY) are set but tlsEnabled (TLS_ENABLED) is "
            "not true: serving plain HTTP, as Relay does");
    }

    const auto asked = flags.tls_min_version ? flags.tls_min_version : config.tls_min_version;
    if (!asked) {
        return {};
    }
    if (resolved.tls_cert.empty()) {
        resolved.warnings.push_back(
            fmt::format("tlsMinVersion {} is set but TLS is not enabled", to_string(*asked)));
        return {};
    }
    if (*asked < TlsVersion::tls1_2) {
        resolved.warnings.push_back(
            fmt::format("tlsMinVersion {} is below what evrelay serves: it accepts TLS 1.2 and "
                        "1.3 only",
                        to_string(*asked)));
        return {};
    }
    resolved.tls_min_version = *asked;
    return {};
}

// [Proxy] user, password and domain apply only to the proxy [Proxy] url names: a proxy libcurl
// finds in HTTPS_PROXY takes its credentials from that variable's URL (ignored_settings.cpp warns).
OutboundProxy configured_proxy(const RelayConfig& config) {
    OutboundProxy proxy;
    if (!config.proxy_url) {
        proxy.ntlm = config.proxy_ntlm_auth.value_or(false);
        return proxy;
    }
    proxy.url = *config.proxy_url;
    proxy.user = config.proxy_user.value_or("");
    proxy.password = config.proxy_password.value_or("");
    proxy.domain = config.proxy_domain.value_or("");
    proxy.ntlm = config.proxy_ntlm_auth.value_or(false);
    return proxy;
}

} // namespace

Result<UpstreamConfig> resolve_upstream_config(const UpstreamFlags& flags, const RelayConfig& file,
                                               const RelayConfig& variables) {
    UpstreamConfig resolved;
    resolved.config = merge_relay_config(file, variables);
    // Checked after the merge: a variable may add origins to an environment the file keys.
    if (auto checked = check_relay_config(resolved.config); !checked) {
        return tl::unexpected(checked.error());
    }
    auto environments = resolve_environments(resolved.config, flags.credentials);
    if (!environments) {
        return tl::unexpected(environments.error());
    }
    resolved.environments = std::move(*environments);

    const RelayConfig& config = resolved.config;
    resolved.events_uri =
        pick(flags.events_uri, config.events_uri, std::string(k_default_events_uri));
    // --proxy replaces the configured proxy with its credentials (a proxy the flag names may not
    // know the configured one's user); credentials then come from the flag's URL alone.
    if (flags.proxy) {
        resolved.proxy.url = *flags.proxy;
    } else {
        resolved.proxy = configured_proxy(config);
        if (resolved.proxy.ntlm && resolved.proxy.url.empty()) {
            return make_error(ErrorKind::config, "[Proxy] ntlmAuth (PROXY_AUTH_NTLM) needs a proxy "
                                                 "URL ([Proxy] url or PROXY_URL)");
        }
    }
    if (flags.ca_cert) {
        resolved.ca_cert_files = {*flags.ca_cert};
    } else {
        resolved.ca_cert_files = config.ca_cert_files;
    }
    return resolved;
}

Result<UpstreamConfig> load_upstream_config(const UpstreamFlags& flags) {
    RelayConfig file;
    if (flags.config_file) {
        auto read = read_relay_config_file(*flags.config_file);
        if (!read) {
            return tl::unexpected(read.error());
        }
        file = std::move(*read);
    }
    auto variables = relay_config_from_process_environment();
    if (!variables) {
        return tl::unexpected(variables.error());
    }
    return resolve_upstream_config(flags, file, *variables);
}

Result<ServeConfig> resolve_serve_config(const ServeFlags& flags, const RelayConfig& config) {
    ServeConfig resolved;
    resolved.port = pick(flags.port, config.port, k_default_port);
    resolved.flush_interval =
        pick(flags.flush_interval, config.flush_interval, k_default_flush_interval);
    if (resolved.flush_interval <= std::chrono::milliseconds::zero()) {
        // The file and the variables cannot give one (their parser refuses it): the flag did.
        return make_error(ErrorKind::invalid_input, "--flush-interval: must be greater than 0");
    }
    resolved.batch_size = pick(flags.batch_size, config.capacity, k_default_batch_size);
    resolved.forward_off_by_config = config.send_events && !*config.send_events;
    resolved.forward = !flags.no_forward && !resolved.forward_off_by_config;
    resolved.offline = flags.offline || config.offline_file_data_source.has_value();
    if (auto tls = resolve_tls(flags, config, resolved); !tls) {
        return tl::unexpected(tls.error());
    }
    resolved.disconnected_status_time =
        config.disconnected_status_time.value_or(k_default_disconnected_status_time);
    resolved.prometheus = config.prometheus_enabled.value_or(false);
    resolved.prometheus_port = config.prometheus_port.value_or(k_default_prometheus_port);
    resolved.metric_prefix = config.prometheus_prefix.value_or("");
    return resolved;
}

} // namespace evrelay
