#include "core/config/ignored_settings.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace evrelay {

std::string_view describe(IgnoredBecause reason) {
    switch (reason) {
    case IgnoredBecause::honoured:
        return "honoured";
    case IgnoredBecause::flag_delivery:
        return "evrelay forwards events only; these configure Relay's flag delivery (streams, "
               "polling, big segments, secure mode)";
    case IgnoredBecause::exit_on_error:
        return "evrelay connects to nothing at start-up: a configuration error always stops it "
               "(exit 78), and a key the upstream refuses shows in /status and the log";
    case IgnoredBecause::usage_metrics:
        return "evrelay sends LaunchDarkly no usage metrics of its own";
    case IgnoredBecause::log_level:
        return "evrelay has one log level, the global --log-level option";
    case IgnoredBecause::data_store:
        return "evrelay keeps no flag data, so it has no data store";
    case IgnoredBecause::exporter:
        return "evrelay exports its metrics as Prometheus text only (/metrics, [Prometheus]) "
               "and in /status";
    case IgnoredBecause::auto_config:
        return "evrelay takes its environments from the config file and variables only, not "
               "from Relay Enterprise's automatic configuration or offline archive";
    case IgnoredBecause::inline_users:
        return "schema-4 events carry contexts, not inline users; evrelay forwards them as the "
               "SDKs sent them";
    case IgnoredBecause::sampling:
        return "Relay 5's event sampling, gone since Relay 6: evrelay forwards every event";
    case IgnoredBecause::unknown:
        return "not a setting of Relay 6 (a typo?)";
    }
    return "ignored";
}

std::vector<std::string> ignored_settings(const RelayConfig& config) {
    std::vector<IgnoredBecause> reasons; // in order of first appearance
    for (const auto& setting : config.ignored) {
        if (std::find(reasons.begin(), reasons.end(), setting.reason) == reasons.end()) {
            reasons.push_back(setting.reason);
        }
    }
    std::vector<std::string> lines;
    for (const auto reason : reasons) {
        std::string names;
        for (const auto& setting : config.ignored) {
            if (setting.reason == reason) {
                names += names.empty() ? "" : ", ";
                names += setting.name;
            }
        }
        lines.push_back("ignored (" + names + "): " + std::string(describe(reason)));
    }
    // Relay ignores these the same way; evrelay says so.
    if (!config.proxy_url && (config.proxy_user || config.proxy_password || config.proxy_domain)) {
        lines.emplace_back("[Proxy] user, password and domain (PROXY_AUTH_USER, "
                           "PROXY_AUTH_PASSWORD, PROXY_AUTH_DOMAIN) are ignored without [Proxy] "
                           "url (PROXY_URL): a proxy from HTTPS_PROXY takes its credentials from "
                           "its own URL");
    } else if (config.proxy_domain && !config.proxy_ntlm_auth.value_or(false)) {
        lines.emplace_back("[Proxy] domain (PROXY_AUTH_DOMAIN) is ignored without ntlmAuth "
                           "(PROXY_AUTH_NTLM): only NTLM authentication has a domain");
    }
    return lines;
}

void warn_about_ignored_settings(const RelayConfig& config) {
    for (const auto& line : ignored_settings(config)) {
        spdlog::warn("config: {}", line);
    }
}

} // namespace evrelay
