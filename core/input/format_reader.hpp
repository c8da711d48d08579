#pragma once

// Internal to core/input: what the readers of the three formats share.

#include "core/input/event_reader.hpp"
#include "core/util/error.hpp"
#include "core/util/line_reader.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace evrelay::input {

// An item is handed over once its events span this much, whatever their count, so that memory
// stays bounded by the largest element rather than by max_events_per_item × element size.
inline constexpr std::size_t k_max_item_bytes = std::size_t{16} << 20;

inline constexpr std::string_view k_utf8_bom = "\xEF\xBB\xBF";

// Reads one format, once EventReader knows which: capture_reader.hpp, ndjson_reader.hpp,
// array_reader.hpp.
class FormatReader {
  public:
    virtual ~FormatReader() = default;
    // As EventReader::next(); `item` comes cleared.
    virtual Result<EventReader::Next> next(InputItem& item, InputProblem& problem) = 0;
};

// A problem located in `input` ("<stdin>" for "-").
inline InputProblem make_problem(const util::InputStream& input, std::uint64_t line,
                                 std::uint64_t offset, std::string message) {
    InputProblem problem;
    problem.file = input.name() == "-" ? "<stdin>" : input.name();
    problem.line = line;
    problem.offset = offset;
    problem.message = std::move(message);
    return problem;
}

} // namespace evrelay::input
