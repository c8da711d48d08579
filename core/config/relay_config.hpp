#pragma once

#include "core/model/environment.hpp"
#include "core/util/error.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace evrelay {

// What the Relay Proxy's configuration file and environment variables can say (SPEC §9).
// Every field is optional so that sources can be layered: flags > environment > file > defaults.
struct RelayConfig {
    std::optional<int> port;
    std::optional<bool> send_events;
    std::optional<std::string> events_uri;
    std::optional<std::chrono::milliseconds> flush_interval;
    std::optional<std::size_t> capacity;
    std::optional<bool> inline_users;
    std::optional<std::string> proxy_url;
    std::optional<std::string> proxy_user;
    std::optional<std::string> proxy_password;
    std::optional<std::string> proxy_domain;
    std::optional<bool> proxy_ntlm_auth;
    std::vector<std::string> ca_cert_files;
    std::vector<Environment> environments; // in file order

    bool operator==(const RelayConfig&) const = default;
};

// The keys of the file and the variables, how each is parsed and where it goes, are one table:
// relay_settings.hpp. `inline_users` is read but not acted on (ignored_settings.hpp).

// Reads Relay's git-config style file (util::GcfgReader): [Main] port; [Events] sendEvents,
// eventsUri, flushInterval, capacity, inlineUsers; [Environment "NAME"] sdkKey, mobileKey, envId,
// allowedOrigin, allowedHeader (repeatable); [Proxy] url, user, password, domain, ntlmAuth,
// caCertFiles.
// Unknown sections and keys are ignored (debug log). Errors name the file and line.
Result<RelayConfig> read_relay_config_file(const std::string& path);
Result<RelayConfig> parse_relay_config(std::string_view text, const std::string& source_name);

// Reads Relay's variables: PORT, USE_EVENTS, EVENTS_HOST, EVENTS_FLUSH_INTERVAL,
// EVENTS_CAPACITY, EVENTS_INLINE_USERS, LD_ENV_<name>, LD_MOBILE_KEY_<name>,
// LD_CLIENT_SIDE_ID_<name>, LD_ALLOWED_ORIGIN_<name>, LD_ALLOWED_HEADER_<name>, PROXY_URL,
// PROXY_AUTH_USER, PROXY_AUTH_PASSWORD, PROXY_AUTH_DOMAIN, PROXY_AUTH_NTLM, PROXY_CA_CERTS. An
// empty variable counts as unset.
// `getenv` is injectable for tests; `names` lists the variable names present (for the
// LD_*_<name> families). Environments come out sorted by name; they are not checked for
// credentials here (see check_relay_config).
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
Result<RelayConfig> relay_config_from_environment(const std::vector<std::string>& names,
                                                  const EnvLookup& getenv);
Result<RelayConfig> relay_config_from_process_environment();

// `over` wins where it sets a field; environments are merged by name, field by field.
RelayConfig merge_relay_config(RelayConfig base, const RelayConfig& over);

// Checks what only the merged result can show: every environment has at least one credential
// (the variables may give an environment its origins while the file gives its key).
Result<void> check_relay_config(const RelayConfig& config);

} // namespace evrelay
