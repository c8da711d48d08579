#pragma once

// Internal to core/input: format 2 of SPEC §5, one or more JSON arrays of events (SDK post
// bodies), one after another, in any layout.

#include "core/input/format_reader.hpp"
#include "core/json/event_splitter.hpp"
#include "core/json/json_element_scanner.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace evrelay::input {

// Streams arrays of any size: the elements are cut as the bytes arrive (JsonElementScanner), and
// the elements cut are validated together as one array, so memory is bounded by the largest
// element, not by the size of an array. A bad element, data between arrays or an array cut short
// is reported where it is, between the events around it.
class ArrayReader final : public FormatReader {
  public:
    ArrayReader(util::InputStream& input, std::size_t max_events_per_item);

    Result<EventReader::Next> next(InputItem& item, InputProblem& problem) override;

  private:
    enum class ArrayState { between, junk, expect_element, in_element };
    struct Range {
        std::uint64_t start; // stream offset
        std::size_t size;
    };
    struct RunElement {
        std::uint64_t start;
        std::size_t size;
        std::uint64_t delimiter; // the ',' or ']' after it
    };

    char* at(std::uint64_t offset) { return m_buffer.get() + (offset - m_base); }
    std::uint64_t end_offset() const { return m_base + m_length; }
    std::uint64_t line_of(std::uint64_t offset);
    std::uint64_t keep_from() const;
    Result<bool> fill();
    void push_problem(std::uint64_t offset, std::string message);
    void push_ready(std::uint64_t start, std::size_t size);
    void validate_run();
    void end_element(std::uint64_t delimiter);
    bool scan_buffer();
    bool enough_ready() const;
    void finish_input();

    util::InputStream& m_input;
    std::size_t m_max_events_per_item;
    EventSplitter m_splitter;
    bool m_finished = false;
    std::unique_ptr<char[]> m_buffer; // m_capacity + k_json_padding bytes
    std::size_t m_capacity = 0;
    std::size_t m_length = 0;  // valid bytes in m_buffer
    std::uint64_t m_base = 0;  // stream offset of m_buffer[0]
    std::uint64_t m_scan = 0;  // stream offset of the next byte to scan
    bool m_input_done = false; // the stream returned 0
    ArrayState m_state = ArrayState::between;
    bool m_first_in_array = true;
    std::uint64_t m_token_start = 0;  // element start
    std::uint64_t m_element_open = 0; // the '[' or ',' before the element expected or scanned
    JsonElementScanner m_element_scanner;
    bool m_oversized = false;
    // Elements of the current array cut but not yet validated; validated together as one array.
    std::vector<RunElement> m_run;
    std::uint64_t m_run_open = 0; // the '[' or ',' before m_run.front()
    // Validated events not yet handed over, and problems positioned between them.
    std::vector<Range> m_ready;
    std::size_t m_ready_head = 0;
    std::uint64_t m_ready_total = 0;
    std::uint64_t m_delivered_total = 0;
    std::deque<std::pair<std::uint64_t, InputProblem>> m_problems; // (m_ready_total, problem)
    std::uint64_t m_line_counted_to = 0;                           // stream offset
    std::uint64_t m_line_at_counted = 1;                           // line number at that offset
};

} // namespace evrelay::input
