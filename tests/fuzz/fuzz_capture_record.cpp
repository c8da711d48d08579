// The capture envelope (SPEC §6; core/model/capture_record.hpp, read by core/input's capture
// reader) on any bytes, one line or many: what is read back is what was written. Each envelope
// read is written again with append_capture_line() and read again: the same fields and events
// (a '\r' inside the events becomes a space, on purpose). Its timestamp prints and parses back to
// itself; the first line, taken as a timestamp, parses only to one that prints and parses back
// alike. The payload a spool line makes of it (payload_of) goes upstream with header values that
// are field values.

#include "tests/fuzz/fuzz_support.hpp"
#include "tests/fuzz/upstream_headers.hpp"

#include "core/input/event_reader.hpp"
#include "core/model/capture_record.hpp"
#include "core/spool/spool_line.hpp"
#include "core/util/line_reader.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using namespace evrelay;

namespace {

struct ReadItem {
    CaptureRecord record;
    std::string events_json; // record.events_json points here
    std::vector<std::string> events;
};

std::vector<ReadItem> read_capture(std::string text) {
    const auto input = util::InputStream::from_string(std::move(text), "capture");
    EventReader reader(*input, InputFormat::capture);
    std::vector<ReadItem> items;
    for (std::size_t calls = 0; calls < 1'000'000; ++calls) {
        InputItem item;
        InputProblem problem;
        const Result<EventReader::Next> next = reader.next(item, problem);
        if (!next || *next == EventReader::Next::end) {
            return items;
        }
        if (*next == EventReader::Next::malformed) {
            continue;
        }
        FUZZ_CHECK(item.envelope.has_value(), "a capture item without its envelope");
        ReadItem read;
        read.record = *item.envelope;
        read.events_json = std::string(item.envelope->events_json);
        read.record.events_json = read.events_json;
        for (const std::string_view event : item.events) {
            read.events.emplace_back(event);
        }
        items.push_back(std::move(read));
    }
    fuzz::fail("the capture reader does not come to an end", "");
}

void check_timestamp(std::chrono::system_clock::time_point t) {
    const std::string printed = format_timestamp(t);
    const auto again = parse_timestamp(printed);
    FUZZ_CHECK(again.has_value(),
               "format_timestamp() prints what parse_timestamp() refuses: " + printed);
    FUZZ_CHECK(std::chrono::floor<std::chrono::milliseconds>(t) == *again,
               "a timestamp does not print and parse back to itself: " + printed);
}

void check_round_trip(const ReadItem& item) {
    const CaptureRecord& record = item.record;
    check_timestamp(record.received);
    std::string line;
    append_capture_line(line, record);
    FUZZ_CHECK(!line.empty() && line.back() == '\n' &&
                   std::count(line.begin(), line.end(), '\n') == 1,
               "append_capture_line() does not write one line: " + line.substr(0, 300));
    const std::vector<ReadItem> again = read_capture(line);
    FUZZ_CHECK(again.size() == 1, "a capture line written from a record read does not read back: " +
                                      line.substr(0, 300));
    const CaptureRecord& back = again[0].record;
    std::string events_json(record.events_json);
    std::replace(events_json.begin(), events_json.end(), '\r', ' ');
    FUZZ_CHECK(back.received == std::chrono::floor<std::chrono::milliseconds>(record.received) &&
                   back.env_name == record.env_name && back.sdk == record.sdk &&
                   back.kind == record.kind && back.metadata == record.metadata &&
                   back.payload_id == record.payload_id && back.events_json == events_json,
               "a capture line reads back with other fields: " + line.substr(0, 300));
    FUZZ_CHECK(again[0].events.size() == item.events.size(), "another number of events");

    Payload payload = payload_of(record, item.events.size());
    FUZZ_CHECK(payload.body == record.events_json && payload.data == record.kind,
               "payload_of() does not carry the recorded events");
    fuzz::check_upstream_headers(payload);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const bool quiet = (fuzz::quiet_logs(), true);
    (void)quiet;
    const std::string_view text = fuzz::as_text(data, size);

    std::string_view first_line = text.substr(0, std::min<std::size_t>(text.find('\n'), 64));
    if (const auto t = parse_timestamp(first_line)) {
        check_timestamp(*t);
    }
    for (const ReadItem& item : read_capture(std::string(text))) {
        check_round_trip(item);
    }
    return 0;
}
