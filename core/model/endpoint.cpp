#include "core/model/endpoint.hpp"

namespace evrelay {

std::string_view to_string(SdkKind kind) {
    switch (kind) {
    case SdkKind::server:
        return "server";
    case SdkKind::mobile:
        return "mobile";
    case SdkKind::js:
        return "js";
    }
    return "unknown";
}

std::string_view to_string(DataKind kind) {
    switch (kind) {
    case DataKind::analytics:
        return "analytics";
    case DataKind::diagnostic:
        return "diagnostic";
    }
    return "unknown";
}

std::optional<SdkKind> parse_sdk_kind(std::string_view text) {
    if (text == "server") {
        return SdkKind::server;
    }
    if (text == "mobile") {
        return SdkKind::mobile;
    }
    if (text == "js") {
        return SdkKind::js;
    }
    return std::nullopt;
}

std::optional<DataKind> parse_data_kind(std::string_view text) {
    if (text == "analytics") {
        return DataKind::analytics;
    }
    if (text == "diagnostic") {
        return DataKind::diagnostic;
    }
    return std::nullopt;
}

std::string upstream_path(SdkKind sdk, DataKind data, std::string_view env_id) {
    const bool analytics = data == DataKind::analytics;
    switch (sdk) {
    case SdkKind::server:
        return analytics ? "/bulk" : "/diagnostic";
    case SdkKind::mobile:
        return analytics ? "/mobile" : "/mobile/events/diagnostic";
    case SdkKind::js: {
        std::string path = analytics ? "/events/bulk/" : "/events/diagnostic/";
        path.append(env_id);
        return path;
    }
    }
    return "/bulk";
}

std::string upstream_url(std::string_view events_uri, std::string_view path) {
    // Users copy the URI with or without a trailing slash; "https://host/" + "/bulk" would give
    // a double slash that some proxies reject.
    while (!events_uri.empty() && events_uri.back() == '/') {
        events_uri.remove_suffix(1);
    }
    std::string url;
    url.reserve(events_uri.size() + path.size());
    url.append(events_uri);
    url.append(path);
    return url;
}

} // namespace evrelay
