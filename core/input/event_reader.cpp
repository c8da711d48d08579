#include "core/input/event_reader.hpp"

#include "core/json/json_element_scanner.hpp"
#include "core/json/json_validator.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <deque>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace evrelay {

namespace {

// Enough of the input to see its first line in all but pathological cases.
constexpr std::size_t k_detect_bytes = 64 * 1024;
// Array input is read in blocks of this size.
constexpr std::size_t k_read_block_bytes = std::size_t{1} << 20;
// An item is handed over once its events span this much, whatever their count, so that memory
// stays bounded by the largest element rather than by max_events_per_item × element size.
constexpr std::size_t k_max_item_bytes = std::size_t{16} << 20;
// An array element longer than this is reported and skipped rather than buffered.
constexpr std::size_t k_max_element_bytes = std::size_t{256} << 20;
constexpr std::size_t k_padding = k_json_padding;
static_assert(util::InputStream::k_padding >= k_json_padding);

constexpr std::string_view k_utf8_bom = "\xEF\xBB\xBF";

bool is_json_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool is_blank(std::string_view text) {
    return std::all_of(text.begin(), text.end(), is_json_space);
}

std::string_view trim_right(std::string_view text) {
    while (!text.empty() && is_json_space(text.back())) {
        text.remove_suffix(1);
    }
    return text;
}

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

// Serves bytes already read for format detection, then the rest of the stream, so that the
// line reader and the array scanner see the whole input.
class ReplayedHeadStream final : public util::InputStream {
  public:
    ReplayedHeadStream(util::InputStream& rest, std::string head)
        : util::InputStream(rest.name()), m_rest(rest), m_head(std::move(head)) {}

    Result<std::size_t> read(char* out, std::size_t max) override {
        if (m_head_pos < m_head.size()) {
            const std::size_t n = std::min(max, m_head.size() - m_head_pos);
            std::memcpy(out, m_head.data() + m_head_pos, n);
            m_head_pos += n;
            if (m_head_pos == m_head.size()) {
                m_head = std::string(); // release the memory
                m_head_pos = 0;
            }
            return n;
        }
        return m_rest.read(out, max);
    }
    std::uint64_t raw_bytes_read() const override { return m_rest.raw_bytes_read(); }
    std::uint64_t raw_size() const override { return m_rest.raw_size(); }

  private:
    util::InputStream& m_rest;
    std::string m_head;
    std::size_t m_head_pos = 0;
};

// Looks at the top-level member names of an object that may be cut short (the first line of a
// detection head); JSON well-formedness is checked later, line by line.
struct TopLevelKeys {
    bool v = false;
    bool events = false;
    bool complete = false;
};

TopLevelKeys scan_top_level_keys(std::string_view object) {
    TopLevelKeys keys;
    int depth = 0;
    bool expect_key = false;
    for (std::size_t i = 0; i < object.size(); ++i) {
        const char c = object[i];
        if (c == '"') {
            std::size_t end = i + 1;
            while (end < object.size() && object[end] != '"') {
                end += object[end] == '\\' ? 2 : 1;
            }
            if (end >= object.size()) {
                return keys;
            }
            if (depth == 1 && expect_key) {
                const std::string_view name = object.substr(i + 1, end - i - 1);
                keys.v = keys.v || name == "v";
                keys.events = keys.events || name == "events" || name == "event";
                expect_key = false;
            }
            i = end;
        } else if (c == '{' || c == '[') {
            ++depth;
            expect_key = c == '{' && depth == 1;
        } else if (c == '}' || c == ']') {
            --depth;
            if (depth == 0) {
                keys.complete = true;
                return keys;
            }
        } else if (c == ',' && depth == 1) {
            expect_key = true;
        }
    }
    return keys;
}

InputProblem make_problem(const util::InputStream& input, std::uint64_t line, std::uint64_t offset,
                          std::string message) {
    InputProblem problem;
    problem.file = input.name() == "-" ? "<stdin>" : input.name();
    problem.line = line;
    problem.offset = offset;
    problem.message = std::move(message);
    return problem;
}

} // namespace

std::string_view to_string(InputFormat format) {
    switch (format) {
    case InputFormat::capture:
        return "capture";
    case InputFormat::array:
        return "array";
    case InputFormat::ndjson:
        return "ndjson";
    }
    return "unknown";
}

std::optional<InputFormat> parse_input_format(std::string_view text) {
    for (InputFormat format : {InputFormat::capture, InputFormat::array, InputFormat::ndjson}) {
        if (text == to_string(format)) {
            return format;
        }
    }
    return std::nullopt;
}

std::optional<InputFormat> detect_input_format(std::string_view head) {
    if (head.substr(0, k_utf8_bom.size()) == k_utf8_bom) {
        head.remove_prefix(k_utf8_bom.size());
    }
    const auto first = std::find_if_not(head.begin(), head.end(), is_json_space);
    if (first == head.end()) {
        return std::nullopt;
    }
    if (*first == '[') {
        return InputFormat::array;
    }
    if (*first != '{') {
        return std::nullopt;
    }
    std::string_view line = head.substr(static_cast<std::size_t>(first - head.begin()));
    line = line.substr(0, line.find('\n'));
    const TopLevelKeys keys = scan_top_level_keys(line);
    // A capture line too long for the head still shows "v" (written first); its events member
    // comes last.
    if (keys.v && (keys.events || !keys.complete)) {
        return InputFormat::capture;
    }
    return InputFormat::ndjson;
}

// ---------------------------------------------------------------------------------------------

struct EventReader::Impl {
    Impl(util::InputStream& input, std::optional<InputFormat> forced, std::size_t max_events)
        : raw_input(input), forced_format(forced),
          max_events_per_item(std::max<std::size_t>(max_events, 1)) {}

    util::InputStream& raw_input;
    std::optional<InputFormat> forced_format;
    std::size_t max_events_per_item;
    std::optional<InputFormat> format;
    bool started = false;
    bool finished = false;
    std::unique_ptr<ReplayedHeadStream> stream;
    EventSplitter splitter;
    // A problem found while an item was being filled: reported by the next call, after the item.
    std::deque<InputProblem> problems_after_item;

    // --- line formats -----------------------------------------------------------------------
    std::unique_ptr<util::LineReader> lines;
    // Capture lines: validated, and their members found, in one pass.
    JsonValidator envelope_validator;
    std::vector<JsonPart> envelope_events;
    // NDJSON lines of the current item, copied: the line reader's buffer moves on.
    std::string arena;
    std::vector<std::pair<std::size_t, std::size_t>> arena_ranges;

    // --- array format -----------------------------------------------------------------------
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
    std::unique_ptr<char[]> buffer; // capacity + k_padding bytes
    std::size_t capacity = 0;
    std::size_t length = 0;  // valid bytes in buffer
    std::uint64_t base = 0;  // stream offset of buffer[0]
    std::uint64_t scan = 0;  // stream offset of the next byte to scan
    bool input_done = false; // the stream returned 0
    ArrayState state = ArrayState::between;
    bool first_in_array = true;
    std::uint64_t token_start = 0;  // element start
    std::uint64_t element_open = 0; // the '[' or ',' before the element expected or scanned
    JsonElementScanner element_scanner;
    bool oversized = false;
    // Elements of the current array cut but not yet validated; validated together as one array.
    std::vector<RunElement> run;
    std::uint64_t run_open = 0; // the '[' or ',' before run.front()
    // Validated events not yet handed over, and problems positioned between them.
    std::vector<Range> ready;
    std::size_t ready_head = 0;
    std::uint64_t ready_total = 0;
    std::uint64_t delivered_total = 0;
    std::deque<std::pair<std::uint64_t, InputProblem>> array_problems; // (ready_total, problem)
    std::uint64_t line_counted_to = 0;                                 // stream offset
    std::uint64_t line_at_counted = 1;                                 // line number at that offset

    util::InputStream& input() { return *stream; }

    Result<void> start() {
        started = true;
        std::string head;
        head.resize(k_detect_bytes);
        std::size_t have = 0;
        // Read until the first line with content is complete, the detection window is full or
        // the input ends.
        while (have < k_detect_bytes) {
            Result<std::size_t> n = raw_input.read(head.data() + have, k_detect_bytes - have);
            if (!n) {
                return tl::unexpected(n.error());
            }
            if (*n == 0) {
                break;
            }
            have += *n;
            const std::string_view seen(head.data(), have);
            const std::size_t content = seen.find_first_not_of(" \t\r\n");
            if (content != std::string_view::npos &&
                seen.find('\n', content) != std::string_view::npos) {
                break;
            }
        }
        head.resize(have);
        format = forced_format ? forced_format : detect_input_format(head);
        if (!format) {
            // Nothing recognisable: read it as lines, so that each bad line is reported.
            format = InputFormat::ndjson;
        }
        stream = std::make_unique<ReplayedHeadStream>(raw_input, std::move(head));
        if (*format == InputFormat::array) {
            capacity = 4 * k_read_block_bytes;
            buffer = std::make_unique_for_overwrite<char[]>(capacity + k_padding);
            std::memset(buffer.get(), 0, k_padding);
        } else {
            lines = std::make_unique<util::LineReader>(*stream);
        }
        return {};
    }

    // --- line formats -----------------------------------------------------------------------

    // The next line with content; false at the end. A line too long is a problem, not an error.
    Result<bool> next_line(util::LineReader::Line& line, std::optional<InputProblem>& too_long) {
        while (true) {
            Result<bool> more = lines->next(line);
            if (!more) {
                if (more.error().kind == ErrorKind::too_large) {
                    too_long = make_problem(input(), lines->lines_read(), 0, more.error().message);
                    return true;
                }
                return tl::unexpected(more.error());
            }
            if (!*more) {
                return false;
            }
            if (line.number == 1 && line.text.substr(0, k_utf8_bom.size()) == k_utf8_bom) {
                line.text.remove_prefix(k_utf8_bom.size());
                line.offset += k_utf8_bom.size();
            }
            if (!is_blank(line.text)) {
                return true;
            }
        }
    }

    InputProblem line_problem(const util::LineReader::Line& line, const JsonError& error,
                              std::string_view what) {
        if (!line.terminated) {
            InputProblem problem =
                make_problem(input(), line.number, line.offset, "truncated last line");
            problem.truncated_last_line = true;
            return problem;
        }
        return make_problem(input(), line.number, line.offset + error.offset,
                            std::string(what) + error.message);
    }

    Result<Next> next_ndjson(InputItem& item, InputProblem& problem) {
        arena.clear();
        arena_ranges.clear();
        item.kind = DataKind::analytics;
        item.line = 0;
        std::optional<InputProblem> found;
        while (arena_ranges.size() < max_events_per_item && arena.size() < k_max_item_bytes) {
            util::LineReader::Line line{};
            std::optional<InputProblem> too_long;
            Result<bool> more = next_line(line, too_long);
            if (!more) {
                return tl::unexpected(more.error());
            }
            if (!*more) {
                break;
            }
            if (too_long) {
                found = std::move(too_long);
                break;
            }
            // The line reader keeps simdjson's padding after each line.
            if (const JsonResult<void> valid =
                    splitter.validate_object(line.text, line.text.size() + k_padding);
                !valid) {
                found = line_problem(line, valid.error(), "");
                break;
            }
            if (item.line == 0) {
                item.line = line.number;
            }
            arena_ranges.emplace_back(arena.size(), line.text.size());
            arena.append(line.text);
        }
        if (arena_ranges.empty()) {
            if (found) {
                problem = std::move(*found);
                return Next::malformed;
            }
            finished = true;
            return Next::end;
        }
        if (found) {
            problems_after_item.push_back(std::move(*found));
        }
        for (const auto& [at, size] : arena_ranges) {
            item.events.emplace_back(arena.data() + at, size);
        }
        return Next::item;
    }

    // Reads the envelope fields of a capture line from the parts its validation found (one pass
    // over the line: no DOM, no second parse to find where the events are). Returns "" on
    // success, else what is wrong.
    std::string parse_envelope(InputItem& item) {
        CaptureRecord record;
        std::optional<std::int64_t> version;
        bool have_received = false;
        bool have_env = false;
        bool have_sdk = false;
        bool have_kind = false;
        bool have_schema = false;
        std::optional<DataKind> events_kind;
        std::string_view events_json;
        for (const JsonPart& field : envelope_validator.parts()) {
            // Keys are compared as written unless they hold an escape (never, from evrelay).
            std::string decoded_key;
            std::string_view key = field.key;
            if (key.find('\\') != std::string_view::npos) {
                decoded_key = json_string_value(key);
                key = decoded_key;
            }
            const auto text = [&]() -> std::optional<std::string> {
                if (field.type != JsonType::string) {
                    return std::nullopt;
                }
                return json_string_value(field.value.substr(1, field.value.size() - 2));
            };
            const auto integer = [&]() -> std::optional<std::int64_t> {
                std::int64_t number = 0;
                const char* end = field.value.data() + field.value.size();
                if (field.type != JsonType::number ||
                    std::from_chars(field.value.data(), end, number).ptr != end) {
                    return std::nullopt;
                }
                return number;
            };
            if (key == "v") {
                if (!(version = integer())) {
                    return "\"v\" is not a number";
                }
            } else if (key == "received") {
                const std::optional<std::string> value = text();
                std::optional<std::chrono::system_clock::time_point> received;
                if (!value || !(received = parse_timestamp(*value))) {
                    return "\"received\" is not a timestamp like 2026-11-26T23:19:43.123Z";
                }
                record.received = *received;
                have_received = true;
            } else if (key == "env") {
                std::optional<std::string> value = text();
                if (!value) {
                    return "\"env\" is not a string";
                }
                record.env_name = std::move(*value);
                have_env = true;
            } else if (key == "sdk") {
                const std::optional<std::string> value = text();
                std::optional<SdkKind> sdk;
                if (!value || !(sdk = parse_sdk_kind(*value))) {
                    return "\"sdk\" is not one of server, mobile, js";
                }
                record.sdk = *sdk;
                have_sdk = true;
            } else if (key == "kind") {
                const std::optional<std::string> value = text();
                std::optional<DataKind> kind;
                if (!value || !(kind = parse_data_kind(*value))) {
                    return "\"kind\" is not one of analytics, diagnostic";
                }
                record.kind = *kind;
                have_kind = true;
            } else if (key == "schema") {
                const std::optional<std::int64_t> number = integer();
                if (!number || *number < 1 || *number > 1000) {
                    return "\"schema\" is not a schema version";
                }
                record.metadata.schema_version = static_cast<int>(*number);
                have_schema = true;
            } else if (key == "tags") {
                std::optional<std::string> value = text();
                if (!value) {
                    return "\"tags\" is not a string";
                }
                record.metadata.tags = std::move(*value);
            } else if (key == "payloadId") {
                std::optional<std::string> value = text();
                if (!value) {
                    return "\"payloadId\" is not a string";
                }
                record.payload_id = std::move(*value);
            } else if (key == "events" || key == "event") {
                if (events_kind) {
                    return "\"events\" or \"event\" appears more than once";
                }
                if (key == "events") {
                    if (field.type != JsonType::array) {
                        return "\"events\" is not an array";
                    }
                    envelope_events.clear();
                    envelope_validator.parts_of(field, envelope_events);
                    for (std::size_t i = 0; i < envelope_events.size(); ++i) {
                        if (envelope_events[i].type != JsonType::object) {
                            return "\"events\": element " + std::to_string(i) + " is " +
                                   json_type_name(envelope_events[i].type) + ", not an object";
                        }
                    }
                    for (const JsonPart& event : envelope_events) {
                        item.events.push_back(event.value);
                    }
                    events_kind = DataKind::analytics;
                } else {
                    if (field.type != JsonType::object) {
                        return "\"event\" is not an object";
                    }
                    item.events.push_back(field.value);
                    events_kind = DataKind::diagnostic;
                }
                events_json = field.value;
            }
            // Other members are ignored: later versions may add some.
        }
        if (!version) {
            return "missing \"v\"";
        }
        if (*version != 1) {
            return "unsupported capture version " + std::to_string(*version);
        }
        // The schema describes analytics events; a diagnostic line may leave it out.
        const bool schema_ok = have_schema || (have_kind && record.kind == DataKind::diagnostic);
        if (!have_received || !have_env || !have_sdk || !have_kind || !schema_ok) {
            return "missing one of \"received\", \"env\", \"sdk\", \"kind\", \"schema\"";
        }
        if (!events_kind) {
            return record.kind == DataKind::analytics ? "missing \"events\"" : "missing \"event\"";
        }
        if (*events_kind != record.kind) {
            return record.kind == DataKind::analytics ? "analytics envelope with \"event\""
                                                      : "diagnostic envelope with \"events\"";
        }
        record.events_json = events_json;
        item.kind = record.kind;
        item.envelope = std::move(record);
        return {};
    }

    Result<Next> next_capture(InputItem& item, InputProblem& problem) {
        while (true) {
            util::LineReader::Line line{};
            std::optional<InputProblem> too_long;
            Result<bool> more = next_line(line, too_long);
            if (!more) {
                return tl::unexpected(more.error());
            }
            if (!*more) {
                finished = true;
                return Next::end;
            }
            if (too_long) {
                problem = std::move(*too_long);
                return Next::malformed;
            }
            // The line reader keeps simdjson's padding after each line.
            JsonResult<void> valid = envelope_validator.validate(line.text.data(), line.text);
            if (valid && envelope_validator.root_type() != JsonType::object) {
                // Rare: let the splitter say what the root is instead, and where.
                valid = splitter.validate_object(line.text, line.text.size() + k_padding);
            }
            if (!valid) {
                problem = line_problem(line, valid.error(), "");
                return Next::malformed;
            }
            item.line = line.number;
            const std::string wrong = parse_envelope(item);
            if (!wrong.empty()) {
                item.events.clear();
                item.envelope.reset();
                problem = make_problem(input(), line.number, line.offset, "capture line: " + wrong);
                return Next::malformed;
            }
            if (item.events.empty()) {
                // A recorded empty post: nothing to replay, not an error either.
                item.envelope.reset();
                continue;
            }
            return Next::item;
        }
    }

    // --- array format -----------------------------------------------------------------------

    char* at(std::uint64_t offset) { return buffer.get() + (offset - base); }
    std::uint64_t end_offset() const { return base + length; }

    // The line number of a stream offset still in the buffer.
    std::uint64_t line_of(std::uint64_t offset) {
        if (offset >= line_counted_to) {
            line_at_counted += count_newlines(at(line_counted_to), at(offset));
        } else {
            line_at_counted -= count_newlines(at(offset), at(line_counted_to));
        }
        line_counted_to = offset;
        return line_at_counted;
    }

    // Earliest stream offset that must stay in the buffer.
    std::uint64_t keep_from() const {
        std::uint64_t keep = scan;
        if (ready_head < ready.size()) {
            keep = std::min(keep, ready[ready_head].start);
        }
        if (!run.empty()) {
            keep = std::min(keep, run_open);
        }
        if (state == ArrayState::expect_element ||
            (state == ArrayState::in_element && !oversized)) {
            keep = std::min(keep, element_open);
        }
        return keep;
    }

    // Reads another block; false at the end of input.
    Result<bool> fill() {
        if (input_done) {
            return false;
        }
        if (length + k_read_block_bytes > capacity) {
            const std::uint64_t keep = keep_from();
            if (keep > base) {
                line_of(std::max(keep, line_counted_to)); // count lines before they go
                const std::size_t drop = static_cast<std::size_t>(keep - base);
                std::memmove(buffer.get(), buffer.get() + drop, length - drop);
                length -= drop;
                base = keep;
            }
            if (length + k_read_block_bytes > capacity) {
                const std::size_t grown = std::max(capacity * 2, length + k_read_block_bytes);
                auto bigger = std::make_unique_for_overwrite<char[]>(grown + k_padding);
                std::memcpy(bigger.get(), buffer.get(), length);
                buffer = std::move(bigger);
                capacity = grown;
            }
        }
        Result<std::size_t> n = input().read(buffer.get() + length, capacity - length);
        if (!n) {
            return tl::unexpected(n.error());
        }
        length += *n;
        // Defined bytes for simdjson to read past the last element.
        std::memset(buffer.get() + length, 0, k_padding);
        if (*n == 0) {
            input_done = true;
            return false;
        }
        return true;
    }

    void push_problem(std::uint64_t offset, std::string message) {
        const std::uint64_t line = line_of(offset);
        array_problems.emplace_back(ready_total,
                                    make_problem(input(), line, offset, std::move(message)));
    }

    void push_ready(std::uint64_t start, std::size_t size) {
        ready.push_back(Range{start, size});
        ++ready_total;
    }

    // Validates the elements cut so far: all at once as one array (the delimiters around them
    // are turned into '[' and ']' for the call), or one by one when that fails, to locate each
    // bad element. The scanner's cuts are exact once the whole span is valid JSON, so simdjson
    // only has to validate, not cut again.
    void validate_run() {
        if (run.empty()) {
            return;
        }
        const std::uint64_t close = run.back().delimiter;
        char* open_byte = at(run_open);
        char* close_byte = at(close);
        const char saved_open = *open_byte;
        const char saved_close = *close_byte;
        *open_byte = '[';
        *close_byte = ']';
        const std::string_view span(open_byte, static_cast<std::size_t>(close - run_open + 1));
        const std::size_t readable =
            capacity + k_padding - static_cast<std::size_t>(run_open - base);
        bool ok = splitter.validate_json(span, readable).has_value();
        *open_byte = saved_open;
        *close_byte = saved_close;
        for (const RunElement& element : run) {
            ok = ok && *at(element.start) == '{';
        }
        if (ok) {
            for (const RunElement& element : run) {
                push_ready(element.start, element.size);
            }
        } else {
            for (const RunElement& element : run) {
                const std::string_view text(at(element.start), element.size);
                const std::size_t element_readable =
                    capacity + k_padding - static_cast<std::size_t>(element.start - base);
                if (const JsonResult<void> valid =
                        splitter.validate_object(text, element_readable)) {
                    push_ready(element.start, element.size);
                } else {
                    push_problem(element.start + valid.error().offset,
                                 "array element: " + valid.error().message);
                }
            }
        }
        run.clear();
    }

    void end_element(std::uint64_t delimiter) {
        if (oversized) {
            validate_run();
            push_problem(token_start, "array element longer than " +
                                          std::to_string(k_max_element_bytes >> 20) + " MiB");
            oversized = false;
            return;
        }
        const std::string_view text =
            trim_right(std::string_view(at(token_start), delimiter - token_start));
        if (run.empty()) {
            run_open = element_open;
        }
        run.push_back(RunElement{token_start, text.size(), delimiter});
    }

    // Scans the buffered bytes. Returns true when it stopped because enough is ready to hand
    // over, false when it needs more input.
    bool scan_buffer() {
        const char* const data = buffer.get();
        const char* p = data + (scan - base);
        const char* const end = data + length;
        auto offset_of = [&](const char* q) { return base + static_cast<std::uint64_t>(q - data); };
        bool need_more = false;
        while (true) {
            if (p == end) {
                need_more = true;
                break;
            }
            switch (state) {
            case ArrayState::between:
                while (p < end && is_json_space(*p)) {
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
                    element_open = offset_of(p);
                    ++p;
                    state = ArrayState::expect_element;
                    first_in_array = true;
                } else {
                    // Reported now, so that none of it needs to stay buffered.
                    push_problem(offset_of(p), "unexpected data between JSON arrays");
                    state = ArrayState::junk;
                }
                break;
            case ArrayState::junk: {
                const auto* open = static_cast<const char*>(std::memchr(p, '[', end - p));
                if (open == nullptr) {
                    p = end;
                    break;
                }
                element_open = offset_of(open);
                p = open + 1;
                state = ArrayState::expect_element;
                first_in_array = true;
                break;
            }
            case ArrayState::expect_element:
                while (p < end && is_json_space(*p)) {
                    ++p;
                }
                if (p == end) {
                    break;
                }
                if (*p == ']') {
                    if (!first_in_array) {
                        validate_run();
                        push_problem(offset_of(p), "expected an element after ','");
                    }
                    validate_run();
                    ++p;
                    state = ArrayState::between;
                } else if (*p == ',') {
                    validate_run();
                    push_problem(offset_of(p), "empty array element");
                    element_open = offset_of(p);
                    ++p;
                    first_in_array = false;
                } else {
                    state = ArrayState::in_element;
                    token_start = offset_of(p);
                    element_scanner.start();
                    oversized = false;
                }
                break;
            case ArrayState::in_element:
                if (!element_scanner.find_end(p, end)) {
                    need_more = true;
                    break;
                }
                // *p is the ',' or ']' that ends the element.
                end_element(offset_of(p));
                first_in_array = false;
                if (*p == ']') {
                    validate_run();
                    state = ArrayState::between;
                } else {
                    state = ArrayState::expect_element;
                    element_open = offset_of(p);
                    if (run.size() >= max_events_per_item) {
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
        scan = offset_of(p);
        if (state == ArrayState::in_element && !oversized &&
            scan - token_start > k_max_element_bytes) {
            oversized = true; // keep scanning for its end, but stop buffering it
        }
        return !need_more;
    }

    bool enough_ready() const {
        const std::size_t pending = ready.size() - ready_head;
        if (!array_problems.empty() && array_problems.front().first <= delivered_total + pending) {
            return true; // a problem is due after (or instead of) the pending events
        }
        if (pending >= max_events_per_item) {
            return true;
        }
        return pending > 0 &&
               ready.back().start + ready.back().size - ready[ready_head].start >= k_max_item_bytes;
    }

    void finish_input() {
        switch (state) {
        case ArrayState::between:
            break;
        case ArrayState::junk:
            break; // already reported
        case ArrayState::expect_element:
        case ArrayState::in_element: {
            validate_run();
            const std::uint64_t where = state == ArrayState::in_element ? token_start : scan;
            push_problem(where, "truncated input: the JSON array is not closed");
            break;
        }
        }
        state = ArrayState::between;
        scan = end_offset();
    }

    Result<Next> next_array(InputItem& item, InputProblem& problem) {
        ready.erase(ready.begin(), ready.begin() + static_cast<std::ptrdiff_t>(ready_head));
        ready_head = 0;
        while (!enough_ready()) {
            if (scan_buffer()) {
                continue;
            }
            if (input_done) {
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
        if (!array_problems.empty() && array_problems.front().first == delivered_total) {
            problem = std::move(array_problems.front().second);
            array_problems.pop_front();
            return Next::malformed;
        }
        std::size_t count = ready.size() - ready_head;
        if (!array_problems.empty()) {
            count = std::min<std::size_t>(count, array_problems.front().first - delivered_total);
        }
        count = std::min(count, max_events_per_item);
        if (count == 0) {
            finished = true;
            return Next::end;
        }
        item.kind = DataKind::analytics;
        item.line = line_of(ready[ready_head].start);
        const std::uint64_t item_start = ready[ready_head].start;
        std::size_t taken = 0;
        while (taken < count) {
            const Range& range = ready[ready_head];
            if (taken > 0 && range.start + range.size - item_start > k_max_item_bytes) {
                break;
            }
            item.events.emplace_back(at(range.start), range.size);
            ++ready_head;
            ++taken;
        }
        delivered_total += taken;
        return Next::item;
    }
};

EventReader::EventReader(util::InputStream& input, std::optional<InputFormat> forced_format,
                         std::size_t max_events_per_item)
    : m_impl(std::make_unique<Impl>(input, forced_format, max_events_per_item)) {}

EventReader::~EventReader() = default;

Result<EventReader::Next> EventReader::next(InputItem& item, InputProblem& problem) {
    Impl& impl = *m_impl;
    item.events.clear();
    item.envelope.reset();
    item.kind = DataKind::analytics;
    item.line = 0;
    if (!impl.started) {
        if (Result<void> started = impl.start(); !started) {
            return tl::unexpected(started.error());
        }
    }
    if (!impl.problems_after_item.empty()) {
        problem = std::move(impl.problems_after_item.front());
        impl.problems_after_item.pop_front();
        return Next::malformed;
    }
    if (impl.finished) {
        return Next::end;
    }
    switch (*impl.format) {
    case InputFormat::capture:
        return impl.next_capture(item, problem);
    case InputFormat::ndjson:
        return impl.next_ndjson(item, problem);
    case InputFormat::array:
        return impl.next_array(item, problem);
    }
    return Next::end;
}

std::optional<InputFormat> EventReader::format() const {
    return m_impl->format;
}

std::uint64_t EventReader::raw_bytes_read() const {
    return m_impl->raw_input.raw_bytes_read();
}

std::uint64_t EventReader::raw_size() const {
    return m_impl->raw_input.raw_size();
}

} // namespace evrelay
