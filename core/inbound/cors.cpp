#include "core/inbound/cors.hpp"

#include <algorithm>

namespace evrelay {

std::vector<std::pair<std::string, std::string>> cors_headers(std::string_view request_origin,
                                                              const Environment* environment) {
    std::vector<std::pair<std::string, std::string>> headers;
    const bool has_list = environment != nullptr && !environment->allowed_origins.empty();
    if (!has_list) {
        headers.emplace_back("Access-Control-Allow-Origin", "*");
    } else {
        const auto& origins = environment->allowed_origins;
        if (!request_origin.empty() &&
            std::find(origins.begin(), origins.end(), request_origin) != origins.end()) {
            headers.emplace_back("Access-Control-Allow-Origin", std::string(request_origin));
        }
        // The answer depends on Origin, so a shared cache must not reuse it across origins.
        headers.emplace_back("Vary", "Origin");
    }
    headers.emplace_back("Access-Control-Allow-Credentials", "false");
    headers.emplace_back("Access-Control-Max-Age", std::string(k_cors_max_age_seconds));
    std::string allowed(k_cors_allowed_headers);
    if (environment != nullptr) {
        for (const auto& header : environment->allowed_headers) {
            allowed += ',';
            allowed += header;
        }
    }
    headers.emplace_back("Access-Control-Allow-Headers", std::move(allowed));
    headers.emplace_back("Access-Control-Expose-Headers", "Date");
    return headers;
}

} // namespace evrelay
