#include "core/inbound/inbound_routes.hpp"

#include "core/util/percent_decode.hpp"

namespace evrelay {

namespace {

constexpr std::string_view k_js_bulk_prefix = "/events/bulk/";
constexpr std::string_view k_js_diagnostic_prefix = "/events/diagnostic/";
constexpr std::string_view k_beacon_prefix = "/a/";
constexpr std::string_view k_beacon_suffix = ".gif";

// Which methods a path accepts; `route` describes it (env_id filled for js paths).
struct PathMatch {
    Route route;
    std::string_view allow; // e.g. "POST" or "POST, OPTIONS"
};

// A client-side ID is one non-empty path segment.
bool valid_env_id(std::string_view id) {
    return !id.empty() && id.find('/') == std::string_view::npos;
}

std::optional<PathMatch> match_path(std::string_view path) {
    auto events = [](SdkKind sdk, DataKind data, std::string_view allow) {
        PathMatch match;
        match.route.kind = RouteKind::events;
        match.route.sdk = sdk;
        match.route.data = data;
        match.allow = allow;
        return match;
    };
    if (path == "/bulk") {
        return events(SdkKind::server, DataKind::analytics, "POST");
    }
    if (path == "/diagnostic") {
        return events(SdkKind::server, DataKind::diagnostic, "POST");
    }
    if (path == "/mobile" || path == "/mobile/events" || path == "/mobile/events/bulk") {
        return events(SdkKind::mobile, DataKind::analytics, "POST");
    }
    if (path == "/mobile/events/diagnostic") {
        return events(SdkKind::mobile, DataKind::diagnostic, "POST");
    }
    for (const auto& [prefix, data] : {std::pair{k_js_bulk_prefix, DataKind::analytics},
                                       std::pair{k_js_diagnostic_prefix, DataKind::diagnostic}}) {
        if (path.starts_with(prefix) && valid_env_id(path.substr(prefix.size()))) {
            auto match = events(SdkKind::js, data, "POST, OPTIONS");
            match.route.env_id = std::string(path.substr(prefix.size()));
            return match;
        }
    }
    if (path.starts_with(k_beacon_prefix) && path.ends_with(k_beacon_suffix)) {
        const std::string_view id = path.substr(
            k_beacon_prefix.size(), path.size() - k_beacon_prefix.size() - k_beacon_suffix.size());
        if (path.size() > k_beacon_prefix.size() + k_beacon_suffix.size() && valid_env_id(id)) {
            PathMatch match;
            match.route.kind = RouteKind::beacon;
            match.route.sdk = SdkKind::js;
            match.route.data = DataKind::analytics;
            match.route.env_id = std::string(id);
            match.allow = "GET, OPTIONS";
            return match;
        }
    }
    auto special = [](RouteKind kind, std::string_view allow) {
        PathMatch match;
        match.route.kind = kind;
        match.allow = allow;
        return match;
    };
    if (path == "/status") {
        return special(RouteKind::status, "GET");
    }
    if (path == "/metrics") {
        return special(RouteKind::metrics, "GET");
    }
    if (path == "/admin/flush") {
        return special(RouteKind::admin_flush, "POST");
    }
    return std::nullopt;
}

bool allows(std::string_view allow, std::string_view method) {
    // `allow` is a short ", "-separated list of upper-case methods; HTTP methods are
    // case-sensitive, so "post" is not POST.
    std::size_t start = 0;
    while (start <= allow.size()) {
        std::size_t end = allow.find(", ", start);
        if (end == std::string_view::npos) {
            end = allow.size();
        }
        if (allow.substr(start, end - start) == method) {
            return true;
        }
        start = end + 2;
    }
    return false;
}

} // namespace

std::string_view target_path(std::string_view target) {
    return target.substr(0, target.find('?'));
}

std::optional<std::string> query_parameter(std::string_view target, std::string_view name) {
    const std::size_t question = target.find('?');
    if (question == std::string_view::npos) {
        return std::nullopt;
    }
    std::string_view query = target.substr(question + 1);
    if (const std::size_t hash = query.find('#'); hash != std::string_view::npos) {
        query = query.substr(0, hash);
    }
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        const std::size_t equals = pair.find('=');
        const std::string_view key = pair.substr(0, equals);
        if (util::percent_decode(key) == name) {
            return equals == std::string_view::npos ? std::string()
                                                    : util::percent_decode(pair.substr(equals + 1));
        }
        if (amp == std::string_view::npos) {
            break;
        }
        query = query.substr(amp + 1);
    }
    return std::nullopt;
}

RouteMatch match_route(std::string_view method, std::string_view target) {
    RouteMatch result;
    const auto path = match_path(target_path(target));
    if (!path) {
        result.outcome = RouteOutcome::not_found;
        return result;
    }
    if (!allows(path->allow, method)) {
        result.outcome = RouteOutcome::method_not_allowed;
        result.allow = std::string(path->allow);
        return result;
    }
    result.outcome = RouteOutcome::found;
    result.route = path->route;
    result.route.preflight = method == "OPTIONS";
    return result;
}

} // namespace evrelay
