#include "core/config/ignored_settings.hpp"

#include <spdlog/spdlog.h>

namespace evrelay {

std::vector<std::string> ignored_settings(const RelayConfig& config) {
    std::vector<std::string> ignored;
    if (config.inline_users.value_or(false)) {
        ignored.emplace_back("[Events] inlineUsers (EVENTS_INLINE_USERS) is ignored: events are "
                             "forwarded as the SDKs sent them, without inlined users, until "
                             "evrelay summarises old-schema events");
    }
    // Relay ignores these the same way; evrelay says so.
    if (!config.proxy_url && (config.proxy_user || config.proxy_password || config.proxy_domain)) {
        ignored.emplace_back("[Proxy] user, password and domain (PROXY_AUTH_USER, "
                             "PROXY_AUTH_PASSWORD, PROXY_AUTH_DOMAIN) are ignored without [Proxy] "
                             "url (PROXY_URL): a proxy from HTTPS_PROXY takes its credentials from "
                             "its own URL");
    } else if (config.proxy_domain && !config.proxy_ntlm_auth.value_or(false)) {
        ignored.emplace_back("[Proxy] domain (PROXY_AUTH_DOMAIN) is ignored without ntlmAuth "
                             "(PROXY_AUTH_NTLM): only NTLM authentication has a domain");
    }
    return ignored;
}

void warn_about_ignored_settings(const RelayConfig& config) {
    for (const auto& message : ignored_settings(config)) {
        spdlog::warn("config: {}", message);
    }
}

} // namespace evrelay
