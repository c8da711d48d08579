#pragma once

#include "core/model/environment.hpp"
#include "core/model/payload.hpp"
#include "core/util/error.hpp"

#include <string>
#include <utility>
#include <vector>

namespace evrelay {

// The URL and headers of one upstream attempt for a payload (SPEC §2), everything but the body.
// Shared by the sender and the dry-run printer so that what --dry-run shows is what is sent.
struct UpstreamRequest {
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;
};

struct UpstreamRequestOptions {
    std::string events_uri;
    std::string user_agent;
    bool gzip = true;
};

// Fails (ErrorKind::config) when the environment has no credential for the payload's SDK kind: a
// server payload needs an SDK key, mobile a mobile key, js a client-side ID (used in the path).
Result<UpstreamRequest> describe_upstream_request(const Payload& payload,
                                                  const Environment& environment,
                                                  const UpstreamRequestOptions& options);

} // namespace evrelay
