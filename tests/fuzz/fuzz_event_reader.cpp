// EventReader (core/input) on any bytes, in each replay input format. The first input byte
// chooses how the rest is read:
//   bits 0-1  the format: detected (0), capture (1), array (2), NDJSON (3)
//   bit 2     gzip the rest first (the reader must decode it: .gz files and gzip stdin)
//   bits 3-7  the most bytes each read() of a second, chunked, input hands out (1 to 32)
// The rest is read three ways — whole from memory as replay reads a file (gzip detected),
// plain in small chunks (block boundaries anywhere), and gzipped — and each way must yield the
// same items and problems. Every event is a valid JSON object; an item holds at most the events
// asked for; a problem is located inside the input; the reader ends. For NDJSON and for arrays,
// a reference made from JsonValidator says which events and problems there must be.

#include "tests/fuzz/fuzz_support.hpp"

#include "core/input/event_reader.hpp"
#include "core/json/json_validator.hpp"
#include "core/util/gzip.hpp"
#include "core/util/line_reader.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using namespace evrelay;

namespace {

constexpr std::size_t k_max_events_per_item = 3;

// An input handing out at most `chunk` bytes per read, without gzip detection.
class ChunkedStream final : public util::InputStream {
  public:
    ChunkedStream(std::string_view data, std::size_t chunk)
        : InputStream("chunked"), m_data(data), m_chunk(chunk) {}
    Result<std::size_t> read(char* out, std::size_t max) override {
        const std::size_t n = std::min({max, m_chunk, m_data.size() - m_pos});
        std::memcpy(out, m_data.data() + m_pos, n);
        m_pos += n;
        return n;
    }
    std::uint64_t raw_bytes_read() const override { return m_pos; }
    std::uint64_t raw_size() const override { return m_data.size(); }

  private:
    std::string_view m_data;
    std::size_t m_chunk;
    std::size_t m_pos = 0;
};

// What a reader yields, in order, in a form that compares.
struct Entry {
    bool problem = false;
    std::vector<std::string> events;
    std::uint64_t line = 0;
    DataKind kind = DataKind::analytics;
    std::string envelope; // the capture envelope's fields, written out
    std::uint64_t offset = 0;
    std::string message;
    bool truncated = false;

    bool operator==(const Entry&) const = default;
};

struct Reading {
    std::vector<Entry> entries;
    std::optional<InputFormat> format;
    std::optional<std::string> error; // an I/O or gzip error ended the reading
};

std::string describe_envelope(const CaptureRecord& record) {
    return std::to_string(record.received.time_since_epoch().count()) + '|' + record.env_name +
           '|' + std::string(to_string(record.sdk)) + '|' + std::string(to_string(record.kind)) +
           '|' + std::to_string(record.metadata.schema_version) + '|' + record.metadata.tags + '|' +
           record.payload_id.value_or("<none>") + '|' + std::string(record.events_json);
}

Reading read_all(util::InputStream& input, std::optional<InputFormat> format,
                 std::size_t decoded_size) {
    static JsonValidator validator;
    EventReader reader(input, format, k_max_events_per_item);
    Reading reading;
    const std::size_t most_calls = 2 * decoded_size + 8;
    for (std::size_t calls = 0;; ++calls) {
        FUZZ_CHECK(calls <= most_calls, "the reader does not come to an end");
        InputItem item;
        InputProblem problem;
        const Result<EventReader::Next> next = reader.next(item, problem);
        if (!next) {
            reading.error = next.error().message;
            break;
        }
        if (*next == EventReader::Next::end) {
            break;
        }
        Entry entry;
        if (*next == EventReader::Next::malformed) {
            entry.problem = true;
            entry.line = problem.line;
            entry.offset = problem.offset;
            entry.message = problem.message;
            entry.truncated = problem.truncated_last_line;
            FUZZ_CHECK(!problem.message.empty(), "a problem without a message");
            FUZZ_CHECK(problem.line >= 1 && problem.offset <= decoded_size,
                       "a problem located outside the input: " + problem.message);
        } else {
            FUZZ_CHECK(!item.events.empty(), "an item without events");
            FUZZ_CHECK(item.line >= 1, "an item without its line");
            entry.line = item.line;
            entry.kind = item.kind;
            if (item.envelope) {
                entry.envelope = describe_envelope(*item.envelope);
            } else {
                FUZZ_CHECK(item.events.size() <= k_max_events_per_item,
                           "an item holds more events than asked for");
            }
            for (const std::string_view event : item.events) {
                const std::string buffer = fuzz::with_padding(event);
                const JsonResult<void> valid = validator.validate(
                    buffer.data(), std::string_view(buffer.data(), event.size()));
                FUZZ_CHECK(valid && validator.root_type() == JsonType::object,
                           "an event is not a JSON object: " + std::string(event.substr(0, 200)));
                entry.events.emplace_back(event);
            }
        }
        reading.entries.push_back(std::move(entry));
    }
    reading.format = reader.format();
    return reading;
}

Reading read_whole(std::string data, std::optional<InputFormat> format, std::size_t decoded) {
    const auto input = util::InputStream::from_string(std::move(data), "whole");
    return read_all(*input, format, decoded);
}

void check_same(const Reading& a, const Reading& b, const char* what) {
    FUZZ_CHECK(a.format == b.format, std::string(what) + ": another format is detected");
    FUZZ_CHECK(a.error == b.error, std::string(what) + ": one reading fails, the other not");
    FUZZ_CHECK(a.entries.size() == b.entries.size(),
               std::string(what) + ": another number of items and problems");
    for (std::size_t i = 0; i < a.entries.size(); ++i) {
        FUZZ_CHECK(a.entries[i] == b.entries[i],
                   std::string(what) + ": entry " + std::to_string(i) + " differs (" +
                       a.entries[i].message + " | " + b.entries[i].message + ")");
    }
}

bool is_blank(std::string_view line) {
    return std::all_of(line.begin(), line.end(),
                       [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

// NDJSON as SPEC §5 describes it: each line with content (a UTF-8 BOM before the first ignored,
// a '\r' before the '\n' too) is one event object or one problem.
void check_ndjson_reference(std::string_view data, const Reading& reading) {
    static JsonValidator validator;
    std::vector<std::string> events;
    std::size_t problems = 0;
    bool truncated = false;
    std::size_t line_number = 0;
    while (!data.empty()) {
        const std::size_t newline = data.find('\n');
        std::string_view line = data.substr(0, newline);
        const bool terminated = newline != std::string_view::npos;
        data.remove_prefix(terminated ? newline + 1 : data.size());
        if (++line_number == 1 && line.starts_with("\xEF\xBB\xBF")) {
            line.remove_prefix(3);
        }
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        if (is_blank(line)) {
            continue;
        }
        const std::string buffer = fuzz::with_padding(line);
        const JsonResult<void> valid =
            validator.validate(buffer.data(), std::string_view(buffer.data(), line.size()));
        if (valid && validator.root_type() == JsonType::object) {
            events.emplace_back(line);
        } else {
            ++problems;
            truncated = !terminated;
        }
    }
    std::vector<std::string> read;
    std::size_t read_problems = 0;
    bool read_truncated = false;
    for (const Entry& entry : reading.entries) {
        read_problems += entry.problem ? 1 : 0;
        read_truncated = read_truncated || entry.truncated;
        read.insert(read.end(), entry.events.begin(), entry.events.end());
    }
    FUZZ_CHECK(read == events, "NDJSON: not the events of the lines that are objects");
    FUZZ_CHECK(read_problems == problems, "NDJSON: not one problem per line that is no object");
    FUZZ_CHECK(read_truncated == truncated, "NDJSON: truncated last line wrongly flagged");
}

// Arrays one after another: when each is a valid array of objects, the events are their
// elements, in order, and there is no problem.
void check_array_reference(std::string_view data, const Reading& reading) {
    static JsonValidator validator;
    std::vector<std::string> events;
    while (!is_blank(data)) {
        const std::string buffer = fuzz::with_padding(data);
        JsonResult<void> valid =
            validator.validate(buffer.data(), std::string_view(buffer.data(), data.size()));
        std::size_t length = data.size();
        if (!valid && valid.error().message.find("after the JSON value") != std::string::npos) {
            length = valid.error().offset; // another text follows: validate the first alone
            valid = validator.validate(buffer.data(), std::string_view(buffer.data(), length));
        }
        if (!valid || validator.root_type() != JsonType::array) {
            return; // the reference knows only valid input
        }
        for (const JsonPart& part : validator.parts()) {
            if (part.type != JsonType::object) {
                return;
            }
            events.emplace_back(part.value);
        }
        data.remove_prefix(length);
    }
    std::vector<std::string> read;
    for (const Entry& entry : reading.entries) {
        FUZZ_CHECK(!entry.problem,
                   "arrays: a problem in valid arrays of objects: " + entry.message);
        read.insert(read.end(), entry.events.begin(), entry.events.end());
    }
    FUZZ_CHECK(read == events, "arrays: not the elements of the arrays");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const bool quiet = (fuzz::quiet_logs(), true);
    (void)quiet;
    if (size == 0) {
        return 0;
    }
    const std::uint8_t control = data[0];
    static constexpr std::optional<InputFormat> k_formats[] = {
        std::nullopt, InputFormat::capture, InputFormat::array, InputFormat::ndjson};
    const std::optional<InputFormat> format = k_formats[control & 3];
    const bool gzip_first = (control & 4) != 0;
    const std::size_t chunk = (control >> 3) + 1;
    const std::string_view rest = fuzz::as_text(data + 1, size - 1);

    if (util::looks_gzipped(rest)) {
        // The fuzzer's own gzip bytes: decoded as a .gz file is; nothing to compare with.
        read_whole(std::string(rest), format, std::size_t{1} << 32);
        return 0;
    }
    if (gzip_first) {
        static util::GzipCompressor compressor(1);
        std::string gzipped;
        compressor.compress(rest, gzipped);
        check_same(read_whole(std::string(rest), format, rest.size()),
                   read_whole(std::move(gzipped), format, rest.size()), "gzip");
        return 0;
    }
    const Reading whole = read_whole(std::string(rest), format, rest.size());
    ChunkedStream chunked(rest, chunk);
    check_same(whole, read_all(chunked, format, rest.size()), "chunked");
    if (whole.error) {
        return 0;
    }
    if (whole.format == InputFormat::ndjson) {
        check_ndjson_reference(rest, whole);
    } else if (whole.format == InputFormat::array) {
        check_array_reference(rest, whole);
    }
    return 0;
}
