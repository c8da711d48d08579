#include "core/config/relay_config.hpp"

#include <spdlog/fmt/fmt.h>

#include <algorithm>

namespace evrelay {

std::string_view to_string(TlsVersion version) {
    switch (version) {
    case TlsVersion::tls1_0:
        return "1.0";
    case TlsVersion::tls1_1:
        return "1.1";
    case TlsVersion::tls1_2:
        return "1.2";
    case TlsVersion::tls1_3:
        return "1.3";
    }
    return "?";
}

RelayConfig merge_relay_config(RelayConfig base, const RelayConfig& over) {
    const auto take = [](auto& field, const auto& other) {
        if (other) {
            field = other;
        }
    };
    take(base.port, over.port);
    take(base.tls_enabled, over.tls_enabled);
    take(base.tls_cert, over.tls_cert);
    take(base.tls_key, over.tls_key);
    take(base.tls_min_version, over.tls_min_version);
    take(base.disconnected_status_time, over.disconnected_status_time);
    take(base.send_events, over.send_events);
    take(base.events_uri, over.events_uri);
    take(base.base_uri, over.base_uri);
    take(base.flush_interval, over.flush_interval);
    take(base.capacity, over.capacity);
    take(base.prometheus_enabled, over.prometheus_enabled);
    take(base.prometheus_port, over.prometheus_port);
    take(base.prometheus_prefix, over.prometheus_prefix);
    take(base.offline_file_data_source, over.offline_file_data_source);
    take(base.proxy_url, over.proxy_url);
    take(base.proxy_user, over.proxy_user);
    take(base.proxy_password, over.proxy_password);
    take(base.proxy_domain, over.proxy_domain);
    take(base.proxy_ntlm_auth, over.proxy_ntlm_auth);
    if (!over.ca_cert_files.empty()) {
        base.ca_cert_files = over.ca_cert_files;
    }
    // Both sources' ignored settings are named: each was given and does nothing.
    base.ignored.insert(base.ignored.end(), over.ignored.begin(), over.ignored.end());

    for (const auto& env : over.environments) {
        auto found = std::find_if(base.environments.begin(), base.environments.end(),
                                  [&](const Environment& e) { return e.name == env.name; });
        if (found == base.environments.end()) {
            base.environments.push_back(env);
            continue;
        }
        const auto replace = [](auto& field, const auto& other) {
            if (!other.empty()) {
                field = other;
            }
        };
        replace(found->sdk_key, env.sdk_key);
        replace(found->mobile_key, env.mobile_key);
        replace(found->env_id, env.env_id);
        replace(found->allowed_origins, env.allowed_origins);
        replace(found->allowed_headers, env.allowed_headers);
    }
    return base;
}

Result<void> check_relay_config(const RelayConfig& config) {
    for (const auto& env : config.environments) {
        if (env.sdk_key.empty() && env.mobile_key.empty() && env.env_id.empty()) {
            return make_error(ErrorKind::config,
                              fmt::format("environment \"{}\" has no credentials (SDK key, mobile "
                                          "key or client-side ID)",
                                          env.name));
        }
    }
    return {};
}

} // namespace evrelay
