#pragma once

#include "core/model/environment.hpp"
#include "core/model/payload.hpp"
#include "core/upstream/upstream_request.hpp"
#include "core/util/error.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace evrelay {

inline constexpr std::string_view k_payload_id_header = "X-LaunchDarkly-Payload-ID";

// The URL and header lines of the requests for one (environment, SDK kind, data kind,
// metadata), rendered once from describe_upstream_request() and shared by every attempt for it:
// only the payload ID differs between them. Immutable once made.
struct RequestHeaders {
    std::string url;
    std::string credential;         // what the attempts authenticate with (for disabling)
    std::vector<std::string> lines; // "Name: value", without the payload ID's
    std::size_t id_position = std::string::npos; // where the payload ID's line goes
};

// The request descriptions of the sender's attempts, and the environments they are made from,
// kept until the environments change (a reload). Used by the sender's curl thread only: no lock.
class RequestHeaderCache {
  public:
    RequestHeaderCache(const EnvironmentTable& environments, UpstreamRequestOptions options);

    // The description of an attempt of `payload`, with the credential as it is now (a reload
    // applies to the retries not yet started, SPEC §3). Fails (ErrorKind::config) when no
    // environment of the payload's name is configured or it has no credential for the
    // payload's SDK kind.
    Result<std::shared_ptr<const RequestHeaders>> lookup(const Payload& payload);

    // SIGHUP changed the events URI: every description from now on names the new one.
    void set_events_uri(std::string events_uri);

    // Changes when the environments do; then everything cached before is gone.
    std::uint64_t generation() const { return m_generation; }

    static constexpr std::size_t k_max_cached = 64;

  private:
    struct Cached {
        std::string env_name;
        SdkKind sdk;
        DataKind data;
        PayloadMetadata metadata;
        std::shared_ptr<const RequestHeaders> headers;
    };

    const Environment* environment_for(const std::string& name);
    Result<std::shared_ptr<const RequestHeaders>>
    describe(const Payload& payload, const Environment& environment, bool shared);

    const EnvironmentTable& m_environments;
    UpstreamRequestOptions m_options;
    std::uint64_t m_generation = ~std::uint64_t{0};
    std::unordered_map<std::string, std::optional<Environment>> m_environment_cache;
    std::vector<Cached> m_headers; // emptied with m_environment_cache
};

} // namespace evrelay
