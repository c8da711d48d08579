#include "core/input/ndjson_reader.hpp"

#include "core/json/json_validator.hpp"

namespace evrelay::input {

Result<EventReader::Next> NdjsonReader::next(InputItem& item, InputProblem& problem) {
    using Next = EventReader::Next;
    if (m_problem_after_item) {
        problem = std::move(*m_problem_after_item);
        m_problem_after_item.reset();
        return Next::malformed;
    }
    if (m_finished) {
        return Next::end;
    }
    m_arena.clear();
    m_arena_ranges.clear();
    item.kind = DataKind::analytics;
    item.line = 0;
    std::optional<InputProblem> found;
    while (m_arena_ranges.size() < m_max_events_per_item && m_arena.size() < k_max_item_bytes) {
        util::LineReader::Line line{};
        InputProblem too_long;
        Result<LineSource::Next> more = m_lines.next(line, too_long);
        if (!more) {
            return tl::unexpected(more.error());
        }
        if (*more == LineSource::Next::end) {
            break;
        }
        if (*more == LineSource::Next::too_long) {
            found = std::move(too_long);
            break;
        }
        // The line source keeps simdjson's padding after each line.
        if (const JsonResult<void> valid =
                m_splitter.validate_object(line.text, line.text.size() + k_json_padding);
            !valid) {
            found = m_lines.rejected(line, valid.error());
            break;
        }
        if (item.line == 0) {
            item.line = line.number;
        }
        m_arena_ranges.emplace_back(m_arena.size(), line.text.size());
        m_arena.append(line.text);
    }
    if (m_arena_ranges.empty()) {
        if (found) {
            problem = std::move(*found);
            return Next::malformed;
        }
        m_finished = true;
        return Next::end;
    }
    m_problem_after_item = std::move(found);
    for (const auto& [at, size] : m_arena_ranges) {
        item.events.emplace_back(m_arena.data() + at, size);
    }
    return Next::item;
}

} // namespace evrelay::input
