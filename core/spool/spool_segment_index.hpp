#pragma once

#include "core/model/endpoint.hpp"
#include "core/model/metadata.hpp"
#include "core/util/error.hpp"
#include "core/util/fd.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
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

// A segment opened for reading through its index: each line's events are read where the index
// says they are (pread), without reading or validating the rest of the line.
class SpoolIndexedSegment {
  public:
    static Result<SpoolIndexedSegment> open(const std::filesystem::path& path);

    // Reads the events array (object) of `entry`'s line into `out`, replacing what it held (a
    // buffer the caller reuses from line to line).
    Result<void> read_events(const SpoolLineIndex& entry, std::string& out) const;

  private:
    SpoolIndexedSegment(std::filesystem::path path, util::Fd fd)
        : m_path(std::move(path)), m_fd(std::move(fd)) {}

    std::filesystem::path m_path;
    util::Fd m_fd;
};

} // namespace evrelay
