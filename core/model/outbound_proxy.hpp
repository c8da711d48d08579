#pragma once

#include <string>

namespace evrelay {

// The outbound HTTP proxy as the configuration gives it (SPEC §9: [Proxy] url, user, password,
// domain, ntlmAuth; PROXY_URL, PROXY_AUTH_*; --proxy): resolved by core/config, handed to
// libcurl by core/upstream (proxy_settings.hpp), which passes the credentials as credentials,
// never inside the URL. Here, like Environment, because both sides speak it. The `{}`
// initializers let callers write designated initializers naming only some members.
struct OutboundProxy {
    std::string url{};      // "" = libcurl's default, which honours HTTPS_PROXY / NO_PROXY
    std::string user{};     // "" = the URL's user, if it has one (percent-encoded there)
    std::string password{}; // "" = the URL's password, if it has one
    std::string domain{};   // NTLM's domain: the user becomes "domain\user"
    bool ntlm = false;      // NTLM instead of Basic

    bool operator==(const OutboundProxy&) const = default;
};

} // namespace evrelay
