#pragma once

#include "core/model/outbound_proxy.hpp"
#include "core/util/error.hpp"

#include <curl/curl.h>

#include <string>

namespace evrelay {

// What libcurl is given for the outbound proxy (SPEC §9): the URL without its userinfo, and the
// credentials as credentials (CURLOPT_PROXYUSERNAME / CURLOPT_PROXYPASSWORD), so that a password
// with a space, "@", ":" or "/" in it is never parsed as part of a URL.
struct CurlProxy {
    std::string url{};      // CURLOPT_PROXY; "" = unset: libcurl's default (HTTPS_PROXY, NO_PROXY)
    std::string username{}; // "domain\user" for NTLM with a domain
    std::string password{};
    unsigned long auth = 0; // CURLOPT_PROXYAUTH; 0 = no credentials, nothing set

    bool operator==(const CurlProxy&) const = default;
};

// Credentials written into the URL ("http://user:p%40ss@proxy:3128") are taken out of it and
// percent-decoded; [Proxy] user and password, when given, win over them field by field.
// Authentication is Basic, sent with the first request as Relay's Go client does; with `ntlm`,
// NTLM. Fails (ErrorKind::config, naming the URL masked) for a URL libcurl cannot parse, and for
// NTLM without a user and a password (Relay refuses that too).
Result<CurlProxy> curl_proxy_for(const OutboundProxy& proxy);

// Sets the options of `proxy` on an easy handle (nothing when it is all unset). Fails
// (ErrorKind::config) when libcurl refuses one, e.g. NTLM in a libcurl built without it.
Result<void> apply_curl_proxy(CURL* easy, const CurlProxy& proxy);

// The proxy, for a log line: its URL with any credentials masked, or where libcurl looks for one.
std::string describe_proxy(const OutboundProxy& proxy);

} // namespace evrelay
