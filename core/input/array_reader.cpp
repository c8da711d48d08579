#include "core/input/array_reader.hpp"

#include "core/json/json_syntax.hpp"
#include "core/json/json_validator.hpp"
#include "core/util/ascii.hpp"

#include <algorithm>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace evrelay::input {

namespace {

// Input is read in blocks of this size.
constexpr std::size_t k_read_block_bytes = std::size_t{1} << 20;
// An element longer than this is reported and skipped rather than buffered.
constexpr std::size_t k_max_element_bytes = std::size_t{256} << 20;

// The number of '\n' bytes in [p, end).
std::uint64_t count_newlines(const char* p, const char* end) {
    std::uint64_t count = 0;
#if defined(__SSE2__)
    // Byte-wise counters (at most 255 rounds before they could overflow), summed with SAD.
    const __m128i newline = _mm_set1_epi8('\n');
    const __m128i zero = _mm_setzero_si128();
    while (end - p >= 16) {
        __m128i counters = zero;
        for (int round = 0; round < 255 && end - p >= 16; ++round, p += 16) {
            const __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
            counters = _mm_sub_epi8(counters, _mm_cmpeq_epi8(block, newline));
        }
        const __m128i sums = _mm_sad_epu8(counters, zero);
        count += static_cast<std::uint64_t>(_mm_cvtsi128_si64(sums)) +
                 static_cast<std::uint64_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(sums, sums)));
    }
#endif
    for (; p < end; ++p) {
        count += *p == '\n' ? 1 : 0;
    }
    return count;
}

} // namespace

ArrayReader::ArrayReader(util::InputStream& input, std::size_t max_events_per_item)
    : m_input(input), m_max_events_per_item(max_events_per_item),
      m_buffer(std::make_unique_for_overwrite<char[]>(4 * k_read_block_bytes + k_json_padding)),
      m_capacity(4 * k_read_block_bytes) {
    std::memset(m_buffer.get(), 0, k_json_padding);
}

// The line number of a stream offset still in the buffer.
std::uint64_t ArrayReader::line_of(std::uint64_t offset) {
    if (offset >= m_line_counted_to) {
        m_line_at_counted += count_newlines(at(m_line_counted_to), at(offset));
    } else {
        m_line_at_counted -= count_newlines(at(offset), at(m_line_counted_to));
    }
    m_line_counted_to = offset;
    return m_line_at_counted;
}

// Earliest stream offset that must stay in the buffer.
std::uint64_t ArrayReader::keep_from() const {
    std::uint64_t keep = m_scan;
    if (m_ready_head < m_ready.size()) {
        keep = std::min(keep, m_ready[m_ready_head].start);
    }
    if (!m_run.empty()) {
        keep = std::min(keep, m_run_open);
    }
    if (m_state == ArrayState::expect_element ||
        (m_state == ArrayState::in_element && !m_oversized)) {
        keep = std::min(keep, m_element_open);
    }
    return keep;
}

// Reads another block; false at the end of input.
Result<bool> ArrayReader::fill() {
    if (m_input_done) {
        return false;
    }
    if (m_length + k_read_block_bytes > m_capacity) {
        const std::uint64_t keep = keep_from();
        if (keep > m_base) {
            line_of(std::max(keep, m_line_counted_to)); // count lines before they go
            const std::size_t drop = static_cast<std::size_t>(keep - m_base);
            std::memmove(m_buffer.get(), m_buffer.get() + drop, m_length - drop);
            m_length -= drop;
            m_base = keep;
        }
        if (m_length + k_read_block_bytes > m_capacity) {
            const std::size_t grown = std::max(m_capacity * 2, m_length + k_read_block_bytes);
            auto bigger = std::make_unique_for_overwrite<char[]>(grown + k_json_padding);
            std::memcpy(bigger.get(), m_buffer.get(), m_length);
            m_buffer = std::move(bigger);
            m_capacity = grown;
        }
    }
    Result<std::size_t> n = m_input.read(m_buffer.get() + m_length, m_capacity - m_length);
    if (!n) {
        return tl::unexpected(n.error());
    }
    m_length += *n;
    // Defined bytes for simdjson to read past the last element.
    std::memset(m_buffer.get() + m_length, 0, k_json_padding);
    if (*n == 0) {
        m_input_done = true;
        return false;
    }
    return true;
}

void ArrayReader::push_problem(std::uint64_t offset, std::string message) {
    const std::uint64_t line = line_of(offset);
    m_problems.emplace_back(m_ready_total, make_problem(m_input, line, offset, std::move(message)));
}

void ArrayReader::push_ready(std::uint64_t start, std::size_t size) {
    m_ready.push_back(Range{start, size});
    ++m_ready_total;
}

// Validates the elements cut so far: all at once as one array (the delimiters around them
// are turned into '[' and ']' for the call), or one by one when that fails, to locate each
// bad element. The scanner's cuts are exact once the whole span is valid JSON, so simdjson
// only has to validate, not cut again.
void ArrayReader::validate_run() {
    if (m_run.empty()) {
        return;
    }
    const std::uint64_t close = m_run.back().delimiter;
    char* open_byte = at(m_run_open);
    char* close_byte = at(close);
    const char saved_open = *open_byte;
    const char saved_close = *close_byte;
    *open_byte = '[';
    *close_byte = ']';
    const std::string_view span(open_byte, static_cast<std::size_t>(close - m_run_open + 1));
    const std::size_t readable =
        m_capacity + k_json_padding - static_cast<std::size_t>(m_run_open - m_base);
    bool ok = m_splitter.validate_json(span, readable).has_value();
    *open_byte = saved_open;
    *close_byte = saved_close;
    for (const RunElement& element : m_run) {
        ok = ok && *at(element.start) == '{';
    }
    if (ok) {
        for (const RunElement& element : m_run) {
            push_ready(element.start, element.size);
        }
    } else {
        for (const RunElement& element : m_run) {
            const std::string_view text(at(element.start), element.size);
            const std::size_t element_readable =
                m_capacity + k_json_padding - static_cast<std::size_t>(element.start - m_base);
            if (const JsonResult<void> valid = m_splitter.validate_object(text, element_readable)) {
                push_ready(element.start, element.size);
            } else {
                push_problem(element.start + valid.error().offset,
                             "array element: " + valid.error().message);
            }
        }
    }
    m_run.clear();
}

void ArrayReader::end_element(std::uint64_t delimiter) {
    if (m_oversized) {
        validate_run();
        push_problem(m_token_start, "array element longer than " +
                                        std::to_string(k_max_element_bytes >> 20) + " MiB");
        m_oversized = false;
        return;
    }
    const std::string_view text =
        util::trim_right(std::string_view(at(m_token_start), delimiter - m_token_start));
    if (m_run.empty()) {
        m_run_open = m_element_open;
    }
    m_run.push_back(RunElement{m_token_start, text.size(), delimiter});
}

// Scans the buffered bytes. Returns true when it stopped because enough is ready to hand
// over, false when it needs more input.
bool ArrayReader::scan_buffer() {
    const char* const data = m_buffer.get();
    const char* p = data + (m_scan - m_base);
    const char* const end = data + m_length;
    auto offset_of = [&](const char* q) { return m_base + static_cast<std::uint64_t>(q - data); };
    bool need_more = false;
    while (true) {
        if (p == end) {
            need_more = true;
            break;
        }
        switch (m_state) {
        case ArrayState::between:
            while (p < end && json_syntax::is_space(*p)) {
                ++p;
            }
            if (p == end) {
                break;
            }
            if (offset_of(p) == 0 && end - p >= 3 && std::string_view(p, 3) == k_utf8_bom) {
                p += 3;
                break;
            }
            if (*p == '[') {
                m_element_open = offset_of(p);
                ++p;
                m_state = ArrayState::expect_element;
                m_first_in_array = true;
            } else {
                // Reported now, so that none of it needs to stay buffered.
                push_problem(offset_of(p), "unexpected data between JSON arrays");
                m_state = ArrayState::junk;
            }
            break;
        case ArrayState::junk: {
            const auto* open = static_cast<const char*>(std::memchr(p, '[', end - p));
            if (open == nullptr) {
                p = end;
                break;
            }
            m_element_open = offset_of(open);
            p = open + 1;
            m_state = ArrayState::expect_element;
            m_first_in_array = true;
            break;
        }
        case ArrayState::expect_element:
            while (p < end && json_syntax::is_space(*p)) {
                ++p;
            }
            if (p == end) {
                break;
            }
            if (*p == ']') {
                if (!m_first_in_array) {
                    validate_run();
                    push_problem(offset_of(p), "expected an element after ','");
                }
                validate_run();
                ++p;
                m_state = ArrayState::between;
            } else if (*p == ',') {
                validate_run();
                push_problem(offset_of(p), "empty array element");
                m_element_open = offset_of(p);
                ++p;
                m_first_in_array = false;
            } else {
                m_state = ArrayState::in_element;
                m_token_start = offset_of(p);
                m_element_scanner.start();
                m_oversized = false;
            }
            break;
        case ArrayState::in_element:
            if (!m_element_scanner.find_end(p, end)) {
                need_more = true;
                break;
            }
            // *p is the ',' or ']' that ends the element.
            end_element(offset_of(p));
            m_first_in_array = false;
            if (*p == ']') {
                validate_run();
                m_state = ArrayState::between;
            } else {
                m_state = ArrayState::expect_element;
                m_element_open = offset_of(p);
                if (m_run.size() >= m_max_events_per_item) {
                    validate_run();
                }
            }
            ++p;
            break;
        }
        if (need_more || enough_ready()) {
            break;
        }
    }
    m_scan = offset_of(p);
    if (m_state == ArrayState::in_element && !m_oversized &&
        m_scan - m_token_start > k_max_element_bytes) {
        m_oversized = true; // keep scanning for its end, but stop buffering it
    }
    return !need_more;
}

bool ArrayReader::enough_ready() const {
    const std::size_t pending = m_ready.size() - m_ready_head;
    if (!m_problems.empty() && m_problems.front().first <= m_delivered_total + pending) {
        return true; // a problem is due after (or instead of) the pending events
    }
    if (pending >= m_max_events_per_item) {
        return true;
    }
    return pending > 0 &&
           m_ready.back().start + m_ready.back().size - m_ready[m_ready_head].start >=
               k_max_item_bytes;
}

void ArrayReader::finish_input() {
    switch (m_state) {
    case ArrayState::between:
    case ArrayState::junk: // already reported
        break;
    case ArrayState::expect_element:
    case ArrayState::in_element: {
        validate_run();
        const std::uint64_t where = m_state == ArrayState::in_element ? m_token_start : m_scan;
        push_problem(where, "truncated input: the JSON array is not closed");
        break;
    }
    }
    m_state = ArrayState::between;
    m_scan = end_offset();
}

Result<EventReader::Next> ArrayReader::next(InputItem& item, InputProblem& problem) {
    using Next = EventReader::Next;
    if (m_finished) {
        return Next::end;
    }
    m_ready.erase(m_ready.begin(), m_ready.begin() + static_cast<std::ptrdiff_t>(m_ready_head));
    m_ready_head = 0;
    while (!enough_ready()) {
        if (scan_buffer()) {
            continue;
        }
        if (m_input_done) {
            break;
        }
        Result<bool> more = fill();
        if (!more) {
            return tl::unexpected(more.error());
        }
        if (!*more) {
            finish_input();
        }
    }
    if (!m_problems.empty() && m_problems.front().first == m_delivered_total) {
        problem = std::move(m_problems.front().second);
        m_problems.pop_front();
        return Next::malformed;
    }
    std::size_t count = m_ready.size() - m_ready_head;
    if (!m_problems.empty()) {
        count = std::min<std::size_t>(count, m_problems.front().first - m_delivered_total);
    }
    count = std::min(count, m_max_events_per_item);
    if (count == 0) {
        m_finished = true;
        return Next::end;
    }
    item.kind = DataKind::analytics;
    item.line = line_of(m_ready[m_ready_head].start);
    const std::uint64_t item_start = m_ready[m_ready_head].start;
    std::size_t taken = 0;
    while (taken < count) {
        const Range& range = m_ready[m_ready_head];
        if (taken > 0 && range.start + range.size - item_start > k_max_item_bytes) {
            break;
        }
        item.events.emplace_back(at(range.start), range.size);
        ++m_ready_head;
        ++taken;
    }
    m_delivered_total += taken;
    return Next::item;
}

} // namespace evrelay::input
