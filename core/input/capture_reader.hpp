#pragma once

// Internal to core/input: format 1 of SPEC §5, evrelay-capture/1 envelopes, one per line.

#include "core/input/format_reader.hpp"
#include "core/input/line_source.hpp"
#include "core/json/event_splitter.hpp"
#include "core/json/json_validator.hpp"

#include <vector>

namespace evrelay::input {

// One item per capture line: the envelope's metadata and its recorded events. A line that is
// not a valid envelope is reported and skipped; a recorded empty post is skipped silently.
class CaptureReader final : public FormatReader {
  public:
    explicit CaptureReader(util::InputStream& input) : m_lines(input) {}

    Result<EventReader::Next> next(InputItem& item, InputProblem& problem) override;

  private:
    // Fills `item`'s envelope, kind and events from the members of the line just validated;
    // fails with what is wrong with the envelope.
    Result<void> read_envelope(InputItem& item);

    LineSource m_lines;
    bool m_finished = false;
    // Lines are validated, and their members found, in one pass.
    JsonValidator m_validator;
    std::vector<JsonPart> m_events; // the elements of "events"
    EventSplitter m_splitter;       // only to describe a line whose root is not an object
};

} // namespace evrelay::input
