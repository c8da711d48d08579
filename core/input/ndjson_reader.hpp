#pragma once

// Internal to core/input: format 3 of SPEC §5, one event object per line.

#include "core/input/format_reader.hpp"
#include "core/input/line_source.hpp"
#include "core/json/event_splitter.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace evrelay::input {

// Gathers consecutive valid lines into items of at most max_events_per_item events (and about
// k_max_item_bytes); a bad line ends the item and is reported after it.
class NdjsonReader final : public FormatReader {
  public:
    NdjsonReader(util::InputStream& input, std::size_t max_events_per_item)
        : m_lines(input), m_max_events_per_item(max_events_per_item) {}

    Result<EventReader::Next> next(InputItem& item, InputProblem& problem) override;

  private:
    LineSource m_lines;
    EventSplitter m_splitter;
    std::size_t m_max_events_per_item;
    bool m_finished = false;
    // A problem found while an item was being filled: reported by the next call, after the item.
    std::optional<InputProblem> m_problem_after_item;
    // The lines of the current item, copied: the line reader's buffer moves on.
    std::string m_arena;
    std::vector<std::pair<std::size_t, std::size_t>> m_arena_ranges; // (offset, size)
};

} // namespace evrelay::input
