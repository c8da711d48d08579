#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace evrelay {

enum class SdkKind { server, mobile, js };
enum class DataKind { analytics, diagnostic };

std::string_view to_string(SdkKind kind);
std::string_view to_string(DataKind kind);
std::optional<SdkKind> parse_sdk_kind(std::string_view text);   // "server", "mobile", "js"
std::optional<DataKind> parse_data_kind(std::string_view text); // "analytics", "diagnostic"

// The upstream path for a payload (SPEC §2): /bulk, /diagnostic, /mobile,
// /mobile/events/diagnostic, /events/bulk/{envId}, /events/diagnostic/{envId}.
std::string upstream_path(SdkKind sdk, DataKind data, std::string_view env_id);

// Joins an events URI and a path; a trailing '/' on the URI is ignored (as the SDKs do).
std::string upstream_url(std::string_view events_uri, std::string_view path);

} // namespace evrelay
