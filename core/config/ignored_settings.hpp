#pragma once

#include "core/config/relay_config.hpp"

#include <string>
#include <vector>

namespace evrelay {

// What the configuration asks for that evrelay parses but does not do, one sentence each:
// today `[Events] inlineUsers` / EVENTS_INLINE_USERS set to true (inlining users into old-schema
// events is part of summarisation, which evrelay does not do yet); [Proxy] user, password or
// domain without a proxy URL; domain without ntlmAuth. Empty when nothing is ignored. Setting it to
// false asks for what evrelay does anyway, so that is not reported.
std::vector<std::string> ignored_settings(const RelayConfig& config);

// Logs each of ignored_settings() at warn level: serve calls it at start-up and on each reload.
void warn_about_ignored_settings(const RelayConfig& config);

} // namespace evrelay
