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
    return ignored;
}

void warn_about_ignored_settings(const RelayConfig& config) {
    for (const auto& message : ignored_settings(config)) {
        spdlog::warn("config: {}", message);
    }
}

} // namespace evrelay
