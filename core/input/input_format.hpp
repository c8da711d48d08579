#pragma once

#include <optional>
#include <string_view>

namespace evrelay {

// The replay input formats of SPEC §5.
enum class InputFormat {
    capture, // evrelay-capture/1 envelopes, one per line
    array,   // one or more JSON arrays of events (SDK post bodies), one after another
    ndjson,  // one event object per line
};
std::string_view to_string(InputFormat format);
std::optional<InputFormat>
parse_input_format(std::string_view text); // "capture", "array", "ndjson"

// Detects the format from the first bytes of the decoded input: '[' → array; a first line that
// is an object with "v" and "events"/"event" members → capture; any other '{' → ndjson.
std::optional<InputFormat> detect_input_format(std::string_view head);

} // namespace evrelay
