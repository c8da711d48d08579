#include "core/upstream/upstream_request.hpp"

#include "core/model/credential.hpp"
#include "core/model/endpoint.hpp"
#include "core/util/ascii.hpp"

#include <string_view>

namespace evrelay {

namespace {

// Inbound headers a diagnostic pass-through forwards (SPEC §2); others (Content-Length,
// Content-Encoding, Host …) describe the inbound request and would be wrong upstream.
bool is_passthrough_header(std::string_view name) {
    return (name.size() == 13 && util::istarts_with(name, "authorization")) ||
           (name.size() == 10 && util::istarts_with(name, "user-agent")) ||
           (name.size() == 12 && util::istarts_with(name, "content-type")) ||
           util::istarts_with(name, "x-launchdarkly-");
}

} // namespace

Result<UpstreamRequest> describe_upstream_request(const Payload& payload,
                                                  const Environment& environment,
                                                  const UpstreamRequestOptions& options) {
    const std::string& credential = environment.credential(payload.sdk);
    if (credential.empty()) {
        return make_error(ErrorKind::config,
                          "environment " + payload.env_name + " has no " +
                              std::string(to_string(credential_kind_for(payload.sdk))));
    }
    UpstreamRequest request;
    // js payloads are addressed by the client-side ID in the path and carry no Authorization.
    const std::string_view env_id = payload.sdk == SdkKind::js ? std::string_view(credential) : "";
    request.url =
        upstream_url(options.events_uri, upstream_path(payload.sdk, payload.data, env_id));

    auto& headers = request.headers;
    if (payload.data == DataKind::diagnostic && !payload.passthrough_headers.empty()) {
        // SPEC §2: a diagnostic post is forwarded with the inbound request's own headers.
        for (const auto& header : payload.passthrough_headers) {
            if (is_passthrough_header(header.first)) {
                headers.push_back(header);
            }
        }
    } else {
        headers.emplace_back("Content-Type", "application/json");
        if (payload.sdk != SdkKind::js) {
            headers.emplace_back("Authorization", credential);
        }
        headers.emplace_back("User-Agent", options.user_agent);
        if (payload.data == DataKind::analytics) {
            headers.emplace_back("X-LaunchDarkly-Event-Schema",
                                 std::to_string(payload.metadata.schema_version));
            headers.emplace_back("X-LaunchDarkly-Payload-ID", payload.id);
        }
        if (!payload.metadata.tags.empty()) {
            headers.emplace_back("X-LaunchDarkly-Tags", payload.metadata.tags);
        }
    }
    if (options.gzip) {
        headers.emplace_back("Content-Encoding", "gzip");
    }
    return request;
}

} // namespace evrelay
