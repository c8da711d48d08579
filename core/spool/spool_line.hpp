#pragma once

#include "core/model/capture_record.hpp"
#include "core/model/endpoint.hpp"
#include "core/model/metadata.hpp"
#include "core/model/payload.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace evrelay {

// A valid analytics spool line on its way into a batch (SpoolRebatcher), as views: of a parsed
// capture line, or of a writer's index entry and the events read for it. The views need to last
// only as long as the call they are passed to.
struct SpoolLineView {
    std::uint64_t line = 0;    // its number in the segment, from 1
    std::string_view env_name; // as recorded (the target environment may replace it)
    SdkKind sdk = SdkKind::server;
    const PayloadMetadata* metadata = nullptr;
    std::chrono::system_clock::time_point received{};
    std::string_view payload_id; // empty: none recorded
    std::string_view events_json;
    std::size_t events = 0;
};

// One spool line (or one item of an incoming/ file, as the line it would be) as the payload that
// delivers it alone: its recorded payload ID — a new one for an analytics line that has none;
// diagnostic payloads carry none (SPEC §2).
Payload payload_of(const CaptureRecord& record, std::size_t event_count);

} // namespace evrelay
