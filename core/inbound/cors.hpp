#pragma once

#include "core/model/environment.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace evrelay {

// The headers every response on a js route carries, as Relay sends them (SPEC §4):
// Access-Control-Allow-Origin is the request's Origin when the environment lists it in
// allowedOrigin, "*" when the environment has no list (or is unknown), and absent when a list
// exists and does not hold the Origin — the browser then refuses the response, which is what an
// allow-list is for. Allow-Headers is the fixed list plus the environment's allowedHeader.
// `environment` may be null (unknown envId: the 404 still needs CORS to be readable).
std::vector<std::pair<std::string, std::string>> cors_headers(std::string_view request_origin,
                                                              const Environment* environment);

// The fixed part of Access-Control-Allow-Headers.
inline constexpr std::string_view k_cors_allowed_headers =
    "Cache-Control,Content-Type,Content-Length,Accept-Encoding,X-LaunchDarkly-User-Agent,"
    "X-LaunchDarkly-Payload-ID,X-LaunchDarkly-Wrapper,X-LaunchDarkly-Event-Schema,"
    "X-LaunchDarkly-Tags";

inline constexpr std::string_view k_cors_max_age_seconds = "300";

} // namespace evrelay
