#include "core/input/line_source.hpp"

#include "core/input/format_reader.hpp"
#include "core/json/json_syntax.hpp"
#include "core/json/json_validator.hpp"

#include <algorithm>

namespace evrelay::input {

// The line reader keeps simdjson's padding after each line.
static_assert(util::InputStream::k_padding >= k_json_padding);

Result<LineSource::Next> LineSource::next(util::LineReader::Line& line, InputProblem& problem) {
    while (true) {
        Result<bool> more = m_lines.next(line);
        if (!more) {
            if (more.error().kind == ErrorKind::too_large) {
                problem = make_problem(m_input, m_lines.lines_read(), 0, more.error().message);
                return Next::too_long;
            }
            return tl::unexpected(more.error());
        }
        if (!*more) {
            return Next::end;
        }
        if (line.number == 1 && line.text.substr(0, k_utf8_bom.size()) == k_utf8_bom) {
            line.text.remove_prefix(k_utf8_bom.size());
            line.offset += k_utf8_bom.size();
        }
        if (!std::all_of(line.text.begin(), line.text.end(), json_syntax::is_space)) {
            return Next::line;
        }
    }
}

InputProblem LineSource::rejected(const util::LineReader::Line& line,
                                  const JsonError& error) const {
    if (!line.terminated) {
        InputProblem problem =
            make_problem(m_input, line.number, line.offset, "truncated last line");
        problem.truncated_last_line = true;
        return problem;
    }
    return make_problem(m_input, line.number, line.offset + error.offset, error.message);
}

InputProblem LineSource::problem_at(const util::LineReader::Line& line, std::string message) const {
    return make_problem(m_input, line.number, line.offset, std::move(message));
}

} // namespace evrelay::input
