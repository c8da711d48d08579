#pragma once

#include "core/input/event_reader.hpp"
#include "core/input/item_destination.hpp"
#include "core/model/payload.hpp"
#include "core/spool/spool_delivery_stats.hpp"
#include "core/spool/spool_directory.hpp"
#include "core/util/error.hpp"

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>

namespace evrelay {

class SpoolWriter;

struct SpoolIngestOptions {
    ReplayTarget target; // where events of files without envelopes go (SpoolDeliveryOptions)
    std::size_t max_events_per_payload = 1000; // array and NDJSON files
    bool dry_run = false; // hand the payloads to the sink instead; nothing written or moved
    std::string command = "flush"; // the caller, the prefix of its log lines
};

// Turns every file of a spool's incoming/ directory (replay formats, SPEC §7) into a segment of
// its own, oldest file first, before the delivery pass reads the segments: its payloads get
// their payload IDs here, so a crash while delivering them re-sends them under the same IDs.
// A file that was taken in is removed; one holding malformed data is moved to bad/ (under a name
// no earlier file there has) once its valid part is taken in; one that could not be read or
// written stays in incoming/ for the next pass (its half-written segment is discarded).
class SpoolIngest {
  public:
    using ProblemHandler = std::function<void(const InputProblem&)>;

    // `sink` gets the payloads in a dry run only.
    SpoolIngest(SpoolDirectory directory, PayloadSink& sink, SpoolIngestOptions options,
                ProblemHandler on_problem);

    // Takes in the files of incoming/ until there are none left or `stopping` says so (it is
    // asked before each file).
    void run(SpoolDeliveryStats& stats, const std::function<bool()>& stopping);

  private:
    void take_in_file(const std::filesystem::path& path, SpoolDeliveryStats& stats);
    // Writes one item of an incoming/ file to `writer` as spool lines (in a dry run, no writer:
    // hands them to the sink).
    Result<void> take_in_item(const InputItem& item, SpoolWriter* writer,
                              SpoolDeliveryStats& stats);

    SpoolDirectory m_directory;
    PayloadSink& m_sink;
    SpoolIngestOptions m_options;
    ProblemHandler m_on_problem;
};

} // namespace evrelay
