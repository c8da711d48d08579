#include "core/config/serve_reload.hpp"

#include "core/util/duration.hpp"
#include "core/util/url_mask.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace evrelay {

namespace {

// The environments by what the log calls them; ones with the same name are compared.
void compare_environments(const std::vector<Environment>& old_environments,
                          const std::vector<Environment>& new_environments,
                          std::vector<std::string>& applied) {
    const auto named = [](const std::vector<Environment>& environments, const std::string& name) {
        return std::find_if(environments.begin(), environments.end(),
                            [&name](const Environment& e) { return e.name == name; });
    };
    for (const Environment& environment : new_environments) {
        const auto old = named(old_environments, environment.name);
        if (old == old_environments.end()) {
            applied.push_back("environment " + environment.name + " added");
            continue;
        }
        std::vector<std::string> what;
        if (old->sdk_key != environment.sdk_key || old->mobile_key != environment.mobile_key ||
            old->env_id != environment.env_id) {
            what.emplace_back("credentials");
        }
        if (old->allowed_origins != environment.allowed_origins ||
            old->allowed_headers != environment.allowed_headers) {
            what.emplace_back("CORS");
        }
        if (!what.empty()) {
            applied.push_back(
                fmt::format("environment {}: new {}", environment.name, fmt::join(what, " and ")));
        }
    }
    for (const Environment& environment : old_environments) {
        if (named(new_environments, environment.name) == new_environments.end()) {
            applied.push_back("environment " + environment.name + " removed");
        }
    }
}

// Keeps `old_value` in `value` and names the setting when they differ.
template <class T>
void keep_for_restart(T& value, const T& old_value, std::string_view name, const std::string& from,
                      const std::string& to, std::vector<std::string>& needs_restart) {
    if (value != old_value) {
        needs_restart.push_back(fmt::format("{} ({} -> {})", name, from, to));
        value = old_value;
    }
}

std::string on_off(bool on) {
    return on ? "on" : "off";
}

std::string or_none(const std::string& text) {
    return text.empty() ? "none" : text;
}

} // namespace

ServeReload plan_serve_reload(const UpstreamConfig& old_upstream, const ServeConfig& old_serve,
                              UpstreamConfig new_upstream, ServeConfig new_serve) {
    ServeReload reload;
    std::vector<std::string>& applied = reload.applied;
    compare_environments(old_upstream.environments.environments,
                         new_upstream.environments.environments, applied);

    if (new_serve.flush_interval != old_serve.flush_interval) {
        reload.flush_interval_changed = true;
        applied.push_back(fmt::format("flush interval {} -> {}",
                                      util::format_duration(old_serve.flush_interval),
                                      util::format_duration(new_serve.flush_interval)));
    }
    if (new_upstream.events_uri != old_upstream.events_uri) {
        reload.route_changed = true;
        applied.push_back(fmt::format("events URI {} -> {}",
                                      util::mask_url_credentials(old_upstream.events_uri),
                                      util::mask_url_credentials(new_upstream.events_uri)));
    }
    if (new_upstream.proxy != old_upstream.proxy) {
        reload.route_changed = true;
        applied.push_back(
            new_upstream.proxy.url == old_upstream.proxy.url
                ? "proxy credentials"
                : fmt::format("proxy {} -> {}",
                              or_none(util::mask_url_credentials(old_upstream.proxy.url)),
                              or_none(util::mask_url_credentials(new_upstream.proxy.url))));
    }
    if (new_upstream.ca_cert_files != old_upstream.ca_cert_files) {
        reload.route_changed = true;
        applied.push_back(fmt::format(
            "CA files: {}", new_upstream.ca_cert_files.empty()
                                ? std::string("none")
                                : fmt::format("{}", fmt::join(new_upstream.ca_cert_files, ", "))));
    }
    if (new_upstream.config.base_uri != old_upstream.config.base_uri) {
        reload.base_uri_changed = true;
        applied.push_back(fmt::format("baseUri {} -> {}",
                                      or_none(old_upstream.config.base_uri.value_or("")),
                                      or_none(new_upstream.config.base_uri.value_or(""))));
    }

    auto& restart = reload.needs_restart;
    keep_for_restart(new_serve.port, old_serve.port, "port", std::to_string(old_serve.port),
                     std::to_string(new_serve.port), restart);
    keep_for_restart(new_serve.tls_cert, old_serve.tls_cert, "TLS certificate",
                     or_none(old_serve.tls_cert), or_none(new_serve.tls_cert), restart);
    keep_for_restart(new_serve.tls_key, old_serve.tls_key, "TLS key", or_none(old_serve.tls_key),
                     or_none(new_serve.tls_key), restart);
    keep_for_restart(new_serve.tls_min_version, old_serve.tls_min_version, "tlsMinVersion",
                     std::string(to_string(old_serve.tls_min_version)),
                     std::string(to_string(new_serve.tls_min_version)), restart);
    keep_for_restart(new_serve.prometheus, old_serve.prometheus, "[Prometheus] enabled",
                     on_off(old_serve.prometheus), on_off(new_serve.prometheus), restart);
    keep_for_restart(new_serve.prometheus_port, old_serve.prometheus_port, "[Prometheus] port",
                     std::to_string(old_serve.prometheus_port),
                     std::to_string(new_serve.prometheus_port), restart);
    keep_for_restart(new_serve.metric_prefix, old_serve.metric_prefix, "[Prometheus] prefix",
                     or_none(old_serve.metric_prefix), or_none(new_serve.metric_prefix), restart);
    keep_for_restart(new_serve.batch_size, old_serve.batch_size, "[Events] capacity",
                     std::to_string(old_serve.batch_size), std::to_string(new_serve.batch_size),
                     restart);
    keep_for_restart(new_serve.forward, old_serve.forward, "sendEvents", on_off(old_serve.forward),
                     on_off(new_serve.forward), restart);
    keep_for_restart(new_serve.offline, old_serve.offline, "offline mode",
                     on_off(old_serve.offline), on_off(new_serve.offline), restart);
    keep_for_restart(new_serve.disconnected_status_time, old_serve.disconnected_status_time,
                     "disconnectedStatusTime",
                     util::format_duration(old_serve.disconnected_status_time),
                     util::format_duration(new_serve.disconnected_status_time), restart);

    reload.upstream = std::move(new_upstream);
    reload.serve = std::move(new_serve);
    return reload;
}

} // namespace evrelay
