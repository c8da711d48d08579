#pragma once

#include <atomic>
#include <cstdint>

namespace evrelay {

// What one delivery pass over a spool did (SpoolDelivery, and SpoolIngest for incoming/).
// Events and payloads are counted per spool line (a line is one payload). Atomic: outcomes are
// counted on the sink's threads, and flush's progress display reads them meanwhile.
struct SpoolDeliveryStats {
    std::atomic<std::uint64_t> payloads_read{0};
    std::atomic<std::uint64_t> events_read{0};
    std::atomic<std::uint64_t> payloads_delivered{0};
    std::atomic<std::uint64_t> events_delivered{0};
    std::atomic<std::uint64_t> payloads_kept{0}; // failed this time; still in the spool
    std::atomic<std::uint64_t> events_kept{0};
    std::atomic<std::uint64_t> payloads_expired{0}; // --max-age
    std::atomic<std::uint64_t> events_expired{0};
    // rebatch: lines dropped because an earlier line of their segment had the same payload ID
    std::atomic<std::uint64_t> payloads_duplicate{0};
    std::atomic<std::uint64_t> events_duplicate{0};
    std::atomic<std::uint64_t> events_too_large{0}; // single events the upstream refused (413)
    std::atomic<std::uint64_t> malformed{0};        // lines (or elements) moved aside to bad/
    std::atomic<std::uint64_t> torn_lines{0};       // unacknowledged last lines skipped
    std::atomic<std::uint64_t> segments_removed{0};
    std::atomic<std::uint64_t> payloads_sent{0};  // handed to the sink (a batch of lines is one)
    std::atomic<std::uint64_t> files_ingested{0}; // incoming/ files turned into segments
    std::atomic<std::uint64_t> bytes_total{0};    // of the segments and files of the pass
    std::atomic<std::uint64_t> bytes_read{0};
    std::atomic<bool> upstream_unavailable{false}; // a payload ran out of attempts
    std::atomic<bool> io_failed{false};            // a spool file could not be read or written
};

} // namespace evrelay
