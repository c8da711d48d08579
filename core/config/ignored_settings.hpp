#pragma once

#include "core/config/relay_config.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace evrelay {

// One sentence: why settings with this reason do nothing in evrelay.
std::string_view describe(IgnoredBecause reason);

// What the configuration gave that evrelay does not act on (RelayConfig::ignored, filled from
// the table of relay_settings.hpp), one line per reason naming every such setting as it was
// given: "ignored ([Redis] host, REDIS_PASSWORD): evrelay keeps no flag data, so it has no data
// store". Reasons come in the order their first setting was given. Empty when nothing is ignored;
// a boolean set to false (Relay's default) asks for nothing and is not named. Then what Relay
// ignores too and evrelay says: [Proxy] user, password or domain without a proxy URL, domain
// without ntlmAuth.
std::vector<std::string> ignored_settings(const RelayConfig& config);

// Logs each of ignored_settings() at warn level, prefixed "config: ": serve calls it at start-up
// and on each reload (replay and flush, one-shot tools that use only the environments and the
// upstream settings, do not).
void warn_about_ignored_settings(const RelayConfig& config);

} // namespace evrelay
