#pragma once

#include "core/model/endpoint.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace evrelay {

// What an inbound request is for, once its method and path are known (SPEC §4's table).
enum class RouteKind {
    events,      // an SDK post (or its CORS preflight)
    beacon,      // GET /a/{envId}.gif?d=<base64 JSON array>: js analytics as an image request
    status,      // GET /status
    metrics,     // GET /metrics
    admin_flush, // POST /admin/flush (loopback only)
};

struct Route {
    RouteKind kind = RouteKind::events;
    SdkKind sdk = SdkKind::server;       // events and beacon only
    DataKind data = DataKind::analytics; // events and beacon only
    std::string env_id;                  // js routes: the client-side ID from the path
    bool preflight = false;              // OPTIONS on a js route: answer with CORS headers only
};

enum class RouteOutcome { found, not_found, method_not_allowed };

struct RouteMatch {
    RouteOutcome outcome = RouteOutcome::not_found;
    Route route;       // when found
    std::string allow; // when method_not_allowed: the Allow header value ("POST, OPTIONS")
};

// Pure: matches a method and a request target (path plus optional query, which is ignored
// except for the beacon's d=) against the inbound routes. Paths match exactly (no trailing
// '/', no percent-decoding of the path: SDKs send these paths literally).
RouteMatch match_route(std::string_view method, std::string_view target);

// The path part of a request target (everything before '?').
std::string_view target_path(std::string_view target);

// The first value of query parameter `name`, percent-decoded; nullopt when absent. '+' is kept
// as '+' rather than read as a space, because the beacon's base64 may contain it unescaped.
std::optional<std::string> query_parameter(std::string_view target, std::string_view name);

} // namespace evrelay
