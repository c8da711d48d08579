#pragma once

#include "core/model/endpoint.hpp"
#include "core/model/metadata.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace evrelay {

// What a SpoolWriter knows about the lines it wrote into one segment, kept in memory so that
// the same process can deliver the segment without parsing it again (serve --durable drains its
// own segments seconds after writing them; parsing each 20 KB post a second time cost as much
// CPU as accepting it). Entry i describes line i + 1. A segment without an index (written by
// another process, or before a restart) is read and validated in full instead.
struct SpoolLineIndex {
    std::uint64_t events_offset = 0; // byte offset of the events array (object) in the file
    std::uint32_t events_length = 0;
    std::uint32_t event_count = 0;
    std::string payload_id; // empty for diagnostic lines
    std::string env_name;
    SdkKind sdk = SdkKind::server;
    DataKind kind = DataKind::analytics;
    PayloadMetadata metadata;
    std::chrono::system_clock::time_point received{};
};

using SpoolSegmentIndex = std::vector<SpoolLineIndex>;

} // namespace evrelay
