#pragma once

// Internal to core/input: the lines of the line formats (capture, NDJSON).

#include "core/input/event_reader.hpp"
#include "core/json/json_error.hpp"
#include "core/util/error.hpp"
#include "core/util/line_reader.hpp"

#include <string>

namespace evrelay::input {

// The lines with content of an input: blank lines are skipped, and so is a UTF-8 byte order mark
// at its start. Each line is followed by k_json_padding readable bytes, so it can be validated
// in place.
class LineSource {
  public:
    enum class Next { line, too_long, end };

    explicit LineSource(util::InputStream& input) : m_input(input), m_lines(input) {}

    // line: `line` holds the next line with content; too_long: `problem` names a line longer
    // than the line reader takes (skipped: the next call goes on after it); end: input
    // exhausted. An I/O error is returned as Error.
    Result<Next> next(util::LineReader::Line& line, InputProblem& problem);

    // A line that is not valid JSON: "truncated last line" when it has no '\n' (cut short by a
    // writer that stopped, not corrupted), else the error, at its offset within the input.
    InputProblem rejected(const util::LineReader::Line& line, const JsonError& error) const;

    // A problem with the line as a whole, located at its start.
    InputProblem problem_at(const util::LineReader::Line& line, std::string message) const;

  private:
    util::InputStream& m_input;
    util::LineReader m_lines;
};

} // namespace evrelay::input
