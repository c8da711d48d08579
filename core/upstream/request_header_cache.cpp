#include "core/upstream/request_header_cache.hpp"

#include <utility>

namespace evrelay {

RequestHeaderCache::RequestHeaderCache(const EnvironmentTable& environments,
                                       UpstreamRequestOptions options)
    : m_environments(environments), m_options(std::move(options)) {}

const Environment* RequestHeaderCache::environment_for(const std::string& name) {
    // Read the generation first: the data found afterwards is at least that new.
    const std::uint64_t generation = m_environments.generation();
    if (generation != m_generation) {
        m_environment_cache.clear();
        m_headers.clear();
        m_generation = generation;
    }
    auto it = m_environment_cache.find(name);
    if (it == m_environment_cache.end()) {
        it = m_environment_cache.emplace(name, m_environments.find_by_name(name)).first;
    }
    return it->second ? &*it->second : nullptr;
}

void RequestHeaderCache::set_events_uri(std::string events_uri) {
    m_options.events_uri = std::move(events_uri);
    m_headers.clear(); // the environments stay: only the URLs change
}

Result<std::shared_ptr<const RequestHeaders>> RequestHeaderCache::lookup(const Payload& payload) {
    const Environment* environment = environment_for(payload.env_name);
    if (environment == nullptr) {
        return make_error(ErrorKind::config,
                          "no environment named " + payload.env_name + " is configured");
    }
    // A diagnostic pass-through carries its own inbound headers: described for itself alone.
    const bool shared = payload.data != DataKind::diagnostic || payload.passthrough_headers.empty();
    if (shared) {
        for (const Cached& cached : m_headers) {
            if (cached.sdk == payload.sdk && cached.data == payload.data &&
                cached.env_name == payload.env_name && cached.metadata == payload.metadata) {
                return cached.headers;
            }
        }
    }
    auto headers = describe(payload, *environment, shared);
    if (headers && shared) {
        if (m_headers.size() >= k_max_cached) {
            m_headers.clear(); // many metadata variants (serve): start again
        }
        m_headers.push_back(
            Cached{payload.env_name, payload.sdk, payload.data, payload.metadata, *headers});
    }
    return headers;
}

Result<std::shared_ptr<const RequestHeaders>>
RequestHeaderCache::describe(const Payload& payload, const Environment& environment, bool shared) {
    // A shared description is that of a payload like this one without its ID (or body): the
    // ID's line is filled in per attempt.
    Result<UpstreamRequest> request;
    if (shared) {
        Payload key;
        key.env_name = payload.env_name;
        key.sdk = payload.sdk;
        key.data = payload.data;
        key.metadata = payload.metadata;
        request = describe_upstream_request(key, environment, m_options);
    } else {
        request = describe_upstream_request(payload, environment, m_options);
    }
    if (!request) {
        return tl::unexpected(std::move(request.error()));
    }
    auto headers = std::make_shared<RequestHeaders>();
    headers->url = std::move(request->url);
    headers->credential = environment.credential(payload.sdk);
    for (const auto& [name, value] : request->headers) {
        if (shared && name == k_payload_id_header) {
            headers->id_position = headers->lines.size();
            continue;
        }
        std::string line;
        line.reserve(name.size() + 2 + value.size());
        line.append(name).append(": ").append(value);
        headers->lines.push_back(std::move(line));
    }
    // "Expect: 100-continue" would cost a round trip per large body.
    headers->lines.emplace_back("Expect:");
    return std::shared_ptr<const RequestHeaders>(std::move(headers));
}

} // namespace evrelay
