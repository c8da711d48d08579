#pragma once

#include "core/input/input_format.hpp"
#include "core/model/capture_record.hpp"
#include "core/util/error.hpp"
#include "core/util/line_reader.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace evrelay {

// A group of events read from the input, all with the same origin.
struct InputItem {
    DataKind kind = DataKind::analytics;
    std::vector<std::string_view> events; // raw event objects, valid until the next call
    // Set for capture input only: the envelope's own metadata.
    std::optional<CaptureRecord> envelope; // envelope->events_json is the recorded array
    std::uint64_t line = 0;                // first input line of the item (1-based)
};

// A malformed line or element, located for the user (SPEC §5).
struct InputProblem {
    std::string file;
    std::uint64_t line = 0;
    std::uint64_t offset = 0; // byte offset in the decoded input
    std::string message;
    // A last line without '\n' that does not parse: cut short by a writer that stopped, not
    // corrupted (the spool skips it with a warning instead of moving the file to bad/).
    bool truncated_last_line = false;
};

// Reads one input (file, .gz or stdin) in any format and yields validated events in batches,
// streaming: memory is bounded by the largest line/array element, not by the input size.
// A truncated last line (no '\n') that does not parse is reported as a warning-worthy problem.
class EventReader {
  public:
    enum class Next { item, malformed, end };

    EventReader(util::InputStream& input, std::optional<InputFormat> forced_format,
                std::size_t max_events_per_item = 1000);
    ~EventReader();

    // item: `item` holds events; malformed: `problem` says what and where (the reader has
    // skipped it and can go on); end: input exhausted. An I/O error is returned as Error.
    Result<Next> next(InputItem& item, InputProblem& problem);

    // The detected (or forced) format; known after the first call to next().
    std::optional<InputFormat> format() const;
    std::uint64_t raw_bytes_read() const;
    std::uint64_t raw_size() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace evrelay
