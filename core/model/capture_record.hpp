#pragma once

#include "core/model/endpoint.hpp"
#include "core/model/metadata.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace evrelay {

// One line of the capture format evrelay-capture/1 (SPEC §6): an accepted post with its
// metadata. `events_json` is the array (analytics) or object (diagnostic) exactly as received.
struct CaptureRecord {
    std::chrono::system_clock::time_point received{};
    std::string env_name;
    SdkKind sdk = SdkKind::server;
    DataKind kind = DataKind::analytics;
    PayloadMetadata metadata;
    std::optional<std::string> payload_id;
    std::string_view events_json;
};

// Serialises a record as one line, with the trailing '\n'. Credentials are never part of a
// record, so they cannot be written.
void append_capture_line(std::string& out, const CaptureRecord& record);

// "2026-11-26T23:19:43.123Z" both ways.
std::string format_timestamp(std::chrono::system_clock::time_point t);
std::optional<std::chrono::system_clock::time_point> parse_timestamp(std::string_view text);

} // namespace evrelay
