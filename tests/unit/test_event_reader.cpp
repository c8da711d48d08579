#include "tests/support/scratch_dir.hpp"

#include "core/input/event_reader.hpp"
#include "core/json/event_splitter.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>
#include <zlib.h>

#include <cstring>
#include <string>
#include <vector>

using evrelay::CaptureRecord;
using evrelay::DataKind;
using evrelay::EventReader;
using evrelay::InputFormat;
using evrelay::InputItem;
using evrelay::InputProblem;
using evrelay::SdkKind;
using evrelay::util::InputStream;

namespace {

// An in-memory input that hands out at most `chunk` bytes per read, to put block boundaries
// anywhere.
class ChunkedStream final : public InputStream {
  public:
    ChunkedStream(std::string data, std::size_t chunk)
        : InputStream("chunked.json"), m_data(std::move(data)), m_chunk(chunk) {}
    evrelay::Result<std::size_t> read(char* out, std::size_t max) override {
        const std::size_t n = std::min({max, m_chunk, m_data.size() - m_pos});
        std::memcpy(out, m_data.data() + m_pos, n);
        m_pos += n;
        return n;
    }
    std::uint64_t raw_bytes_read() const override { return m_pos; }
    std::uint64_t raw_size() const override { return m_data.size(); }

  private:
    std::string m_data;
    std::size_t m_chunk;
    std::size_t m_pos = 0;
};

// What a reader yields, in order: events (copied) and problems, one entry each.
struct Entry {
    bool problem = false;
    std::string event;
    InputProblem where;
};

struct ReadAll {
    std::vector<Entry> entries;
    std::vector<InputItem> items; // without events (their views die), for metadata checks
    std::vector<std::size_t> item_sizes;
    std::vector<std::vector<std::string>> item_events;
    std::optional<InputFormat> format;
};

ReadAll read_all(InputStream& input, std::optional<InputFormat> forced = std::nullopt,
                 std::size_t max_events = 1000) {
    ReadAll all;
    EventReader reader(input, forced, max_events);
    InputItem item;
    InputProblem problem;
    for (int guard = 0; guard < 1'000'000; ++guard) {
        auto next = reader.next(item, problem);
        REQUIRE(next);
        if (*next == EventReader::Next::end) {
            // End is sticky.
            CHECK(*reader.next(item, problem) == EventReader::Next::end);
            break;
        }
        if (*next == EventReader::Next::malformed) {
            all.entries.push_back(Entry{true, {}, problem});
            continue;
        }
        REQUIRE_FALSE(item.events.empty());
        all.item_sizes.push_back(item.events.size());
        all.item_events.emplace_back();
        for (std::string_view event : item.events) {
            all.entries.push_back(Entry{false, std::string(event), {}});
            all.item_events.back().emplace_back(event);
        }
        InputItem copy = item;
        copy.events.clear();
        if (copy.envelope) {
            copy.envelope->events_json = {};
        }
        all.items.push_back(copy);
    }
    all.format = reader.format();
    return all;
}

ReadAll read_string(std::string data, std::optional<InputFormat> forced = std::nullopt,
                    std::size_t max_events = 1000) {
    auto input = InputStream::from_string(std::move(data), "input.txt");
    return read_all(*input, forced, max_events);
}

std::vector<std::string> events_of(const ReadAll& all) {
    std::vector<std::string> events;
    for (const Entry& entry : all.entries) {
        if (!entry.problem) {
            events.push_back(entry.event);
        }
    }
    return events;
}

std::vector<const InputProblem*> problems_of(const ReadAll& all) {
    std::vector<const InputProblem*> problems;
    for (const Entry& entry : all.entries) {
        if (entry.problem) {
            problems.push_back(&entry.where);
        }
    }
    return problems;
}

// The raw "body" of each SDK request in the fixtures that posted an array of events.
std::vector<std::string> fixture_array_bodies() {
    std::vector<std::string> bodies;
    simdjson::ondemand::parser parser;
    for (const auto& entry : std::filesystem::directory_iterator(
             evrelay::test::fixture_path("README.md").parent_path())) {
        if (entry.path().extension() != ".ndjson") {
            continue;
        }
        const simdjson::padded_string content =
            simdjson::padded_string::load(entry.path().string());
        simdjson::ondemand::document_stream stream = parser.iterate_many(content);
        for (auto doc : stream) {
            simdjson::ondemand::array body;
            if (doc.find_field_unordered("body").get_array().get(body) != simdjson::SUCCESS) {
                continue;
            }
            bodies.emplace_back(body.raw_json().value());
        }
    }
    std::sort(bodies.begin(), bodies.end());
    return bodies;
}

std::vector<std::string> split(const std::string& array) {
    evrelay::EventSplitter splitter;
    std::vector<std::string_view> views;
    REQUIRE(splitter.split_array(array, array.size(), views));
    return {views.begin(), views.end()};
}

std::string bench_payload() {
    std::string json =
        evrelay::test::read_file(evrelay::test::fixture_path("bench-payload-50-events.json"));
    return json.substr(0, json.find_last_of(']') + 1);
}

std::string pretty_array(const std::vector<std::string>& events) {
    std::string out = "[\n";
    for (std::size_t i = 0; i < events.size(); ++i) {
        out += "  " + events[i] + (i + 1 < events.size() ? ",\n" : "\n");
    }
    return out + "]\n";
}

CaptureRecord make_record(std::string_view events_json, DataKind kind = DataKind::analytics) {
    CaptureRecord record;
    record.received = *evrelay::parse_timestamp("2026-11-26T23:19:43.123Z");
    record.env_name = "production";
    record.sdk = SdkKind::server;
    record.kind = kind;
    record.metadata.schema_version = 4;
    record.metadata.tags = "application-id/web";
    record.payload_id = "1f9d6b12-4e86-4763-85e5-2ae1196a214b";
    record.events_json = events_json;
    return record;
}

} // namespace

TEST_CASE("EventReader::detect_input_format", "[reader]") {
    using evrelay::detect_input_format;
    CHECK(detect_input_format("[{\"kind\":\"custom\"}]") == InputFormat::array);
    CHECK(detect_input_format("\n\n  [\n  {") == InputFormat::array);
    CHECK(detect_input_format("\xEF\xBB\xBF[]") == InputFormat::array);
    CHECK(detect_input_format(R"({"v":1,"received":"x","events":[]})"
                              "\n{}") == InputFormat::capture);
    CHECK(detect_input_format(R"({"kind":"diagnostic","v":1,"event":{"v":2}})") ==
          InputFormat::capture);
    // A capture line longer than the head: "v" comes first.
    CHECK(detect_input_format(R"({"v":1,"received":"2026-11-26T23:19:43.123Z","events":[{"ki)") ==
          InputFormat::capture);
    CHECK(detect_input_format(R"({"kind":"custom","key":"v"})"
                              "\n") == InputFormat::ndjson);
    // "v" and "events" nested deeper do not make a capture line.
    CHECK(detect_input_format(R"({"kind":"custom","data":{"v":1,"events":[]}})") ==
          InputFormat::ndjson);
    CHECK(detect_input_format(R"({"v":2})") == InputFormat::ndjson);
    CHECK_FALSE(detect_input_format(""));
    CHECK_FALSE(detect_input_format(" \n "));
    CHECK_FALSE(detect_input_format("hello"));

    CHECK(evrelay::parse_input_format("ndjson") == InputFormat::ndjson);
    CHECK(evrelay::parse_input_format("capture") == InputFormat::capture);
    CHECK(evrelay::parse_input_format("array") == InputFormat::array);
    CHECK_FALSE(evrelay::parse_input_format("json"));
    CHECK(evrelay::to_string(InputFormat::array) == "array");
}

TEST_CASE("EventReader::next capture", "[reader]") {
    const std::vector<std::string> bodies = fixture_array_bodies();
    REQUIRE(bodies.size() >= 20);
    const std::string diagnostic = R"({"kind":"diagnostic","id":{"diagnosticId":"d"}})";

    std::string input;
    CaptureRecord analytics = make_record(bodies[0]);
    evrelay::append_capture_line(input, analytics);
    CaptureRecord bare = make_record(bodies[1]);
    // A schema-4 post that carried X-LaunchDarkly-Unsummarized keeps the mark (SPEC §8).
    bare.metadata.unsummarized = true;
    bare.metadata.tags.clear();
    bare.payload_id.reset();
    bare.sdk = SdkKind::js;
    bare.env_name = "st\"aging";
    bare.received += std::chrono::milliseconds(1500);
    evrelay::append_capture_line(input, bare);
    input += "\n   \n"; // blank lines are skipped
    CaptureRecord diag = make_record(diagnostic, DataKind::diagnostic);
    diag.sdk = SdkKind::mobile;
    evrelay::append_capture_line(input, diag);

    SECTION("round trip") {
        const ReadAll all = read_string(input);
        CHECK(all.format == InputFormat::capture);
        REQUIRE(problems_of(all).empty());
        REQUIRE(all.items.size() == 3);

        CHECK(all.item_events[0] == split(bodies[0]));
        const CaptureRecord& first = *all.items[0].envelope;
        CHECK(first.received == analytics.received);
        CHECK(first.env_name == "production");
        CHECK(first.sdk == SdkKind::server);
        CHECK(first.kind == DataKind::analytics);
        CHECK(first.metadata == analytics.metadata);
        CHECK(first.payload_id == analytics.payload_id);
        CHECK(all.items[0].kind == DataKind::analytics);
        CHECK(all.items[0].line == 1);

        CHECK(all.item_events[1] == split(bodies[1]));
        const CaptureRecord& second = *all.items[1].envelope;
        CHECK(second.received == bare.received);
        CHECK(second.env_name == "st\"aging");
        CHECK(second.sdk == SdkKind::js);
        CHECK(second.metadata.tags.empty());
        CHECK(second.metadata.schema_version == 4);
        CHECK(second.metadata.unsummarized);
        CHECK_FALSE(first.metadata.unsummarized);
        CHECK_FALSE(second.payload_id);
        CHECK(all.items[1].line == 2);

        CHECK(all.items[2].kind == DataKind::diagnostic);
        CHECK(all.items[2].envelope->sdk == SdkKind::mobile);
        CHECK(all.item_events[2] == std::vector<std::string>{diagnostic});
        CHECK(all.items[2].line == 5);
    }

    SECTION("events_json is the recorded array, valid until the next call") {
        auto stream = InputStream::from_string(input);
        EventReader reader(*stream, std::nullopt);
        InputItem item;
        InputProblem problem;
        REQUIRE(*reader.next(item, problem) == EventReader::Next::item);
        CHECK(item.envelope->events_json == bodies[0]);
        CHECK(item.events.front().data() > item.envelope->events_json.data());
    }

    SECTION("every capture of the SDK fixtures, read in small blocks") {
        std::string many;
        std::vector<std::string> expected;
        for (const std::string& body : bodies) {
            evrelay::append_capture_line(many, make_record(body));
            for (const std::string& event : split(body)) {
                expected.push_back(event);
            }
        }
        ChunkedStream stream(many, 1000);
        const ReadAll all = read_all(stream);
        CHECK(all.items.size() == bodies.size());
        CHECK(events_of(all) == expected);
    }

    SECTION("malformed lines are reported and skipped") {
        std::string bad = input;
        const std::size_t third_line_offset = bad.find('\n', bad.find('\n') + 1) + 1;
        bad.insert(third_line_offset, "{\"v\":1,\"events\":[}\n" // line 3: not JSON
                                      "{\"v\":1,\"received\":\"2026-11-26T23:19:43.123Z\","
                                      "\"env\":\"p\",\"sdk\":\"server\",\"kind\":\"analytics\","
                                      "\"schema\":4,\"events\":[{},7]}\n" // line 4: 7
                                      "{\"v\":1}\n");                     // line 5: no fields
        const ReadAll all = read_string(bad, InputFormat::capture);
        CHECK(all.items.size() == 3);
        const auto problems = problems_of(all);
        REQUIRE(problems.size() == 3);
        CHECK(problems[0]->file == "input.txt");
        CHECK(problems[0]->line == 3);
        CHECK(problems[0]->offset == third_line_offset + 17);
        CHECK(problems[1]->line == 4);
        CHECK(problems[1]->message == "capture line: \"events\": element 1 is a number, not an "
                                      "object");
        CHECK(problems[2]->line == 5);
        CHECK(problems[2]->message.find("capture line:") == 0);
        CHECK(all.items[2].line == 8);
    }

    SECTION("envelope members: escapes decoded, wrong types and duplicates named") {
        const std::string head =
            "{\"v\":1,\"received\":\"2026-11-26T23:19:43.123Z\",\"sdk\":\"server\","
            "\"kind\":\"analytics\",\"schema\":4,";
        const std::string lines =
            head +
            "\"env\":\"pro\\u0064\\\"x\\\"\",\"t\\u0061gs\":\"a\\/b\",\"events\":[{\"k\":1}]}\n" +
            head + "\"env\":\"p\",\"events\":[{}],\"events\":[{}]}\n" + head +
            "\"env\":7,\"events\":[{}]}\n" + //
            head + "\"env\":\"p\",\"schema\":4.0,\"events\":[{}]}\n" + head +
            "\"env\":\"p\",\"events\":{}}\n";
        const ReadAll all = read_string(lines, InputFormat::capture);
        REQUIRE(all.items.size() == 1);
        REQUIRE(all.items[0].envelope.has_value());
        CHECK(all.items[0].envelope->env_name == "prod\"x\"");
        CHECK(all.items[0].envelope->metadata.tags == "a/b");
        CHECK(all.item_events[0] == std::vector<std::string>{"{\"k\":1}"});
        const auto problems = problems_of(all);
        REQUIRE(problems.size() == 4);
        CHECK(problems[0]->message ==
              "capture line: \"events\" or \"event\" appears more than once");
        CHECK(problems[1]->message == "capture line: \"env\" is not a string");
        CHECK(problems[2]->message == "capture line: \"schema\" is not a schema version");
        CHECK(problems[3]->message == "capture line: \"events\" is not an array");
    }

    SECTION("a truncated last line") {
        std::string cut = input.substr(0, input.size() - 10);
        const ReadAll all = read_string(cut);
        CHECK(all.items.size() == 2);
        const auto problems = problems_of(all);
        REQUIRE(problems.size() == 1);
        CHECK(problems[0]->message == "truncated last line");
        CHECK(problems[0]->line == 5);
        CHECK(problems[0]->offset == cut.rfind('\n') + 1);
    }

    SECTION("a complete last line without its newline is fine") {
        input.pop_back();
        const ReadAll all = read_string(input);
        CHECK(all.items.size() == 3);
        CHECK(problems_of(all).empty());
    }
}

TEST_CASE("EventReader::next array", "[reader]") {
    const std::string payload = bench_payload();
    const std::vector<std::string> events = split(payload);
    REQUIRE(events.size() == 50);

    SECTION("one array, items of at most max_events_per_item") {
        const ReadAll all = read_string(payload, std::nullopt, 20);
        CHECK(all.format == InputFormat::array);
        CHECK(problems_of(all).empty());
        CHECK(all.item_sizes == std::vector<std::size_t>{20, 20, 10});
        CHECK(events_of(all) == events);
        CHECK(all.items[0].line == 1);
    }

    SECTION("pretty-printed arrays, several in one input, with SDK bodies") {
        const std::vector<std::string> bodies = fixture_array_bodies();
        std::string input = "\n";
        std::vector<std::string> expected;
        for (const std::string& body : bodies) {
            const std::vector<std::string> body_events = split(body);
            input += pretty_array(body_events);
            expected.insert(expected.end(), body_events.begin(), body_events.end());
        }
        input += "[]\n" + payload + payload + "\n";
        expected.insert(expected.end(), events.begin(), events.end());
        expected.insert(expected.end(), events.begin(), events.end());
        const ReadAll all = read_string(input, std::nullopt, 1000);
        CHECK(problems_of(all).empty());
        CHECK(events_of(all) == expected);
        // The first event is on line 3: a blank line, then "[".
        CHECK(all.items.front().line == 3);
    }

    SECTION("an array larger than the read blocks, in odd-sized reads") {
        std::string big = "[";
        std::vector<std::string> expected;
        std::vector<std::size_t> lines; // of each event
        // Escapes and brackets inside strings, across every possible block boundary.
        const std::string tricky = R"({"kind":"custom","key":"a\\\"],{[\\","data":{"x":["]"]}})";
        std::size_t newlines = 0; // counted as the text grows: recounting is quadratic
        while (big.size() < (5u << 20) / 2) {
            for (const std::string& event : events) {
                lines.push_back(1 + newlines);
                big += event + ",\n";
                newlines +=
                    1 + static_cast<std::size_t>(std::count(event.begin(), event.end(), '\n'));
                expected.push_back(event);
            }
            lines.push_back(lines.back() + 1);
            big += tricky + " , ";
            expected.push_back(tricky);
        }
        lines.push_back(lines.back());
        big += events[0] + "]";
        expected.push_back(events[0]);
        REQUIRE(big.size() > (2u << 20));
        for (std::size_t chunk : {std::size_t{4093}, std::size_t{1} << 20}) {
            ChunkedStream stream(big, chunk);
            const ReadAll all = read_all(stream, std::nullopt, 700);
            CHECK(problems_of(all).empty());
            CHECK(events_of(all) == expected);
            std::size_t first = 0;
            for (std::size_t i = 0; i < all.items.size(); ++i) {
                CHECK(all.item_sizes[i] <= 700);
                CHECK(all.items[i].line == lines[first]);
                first += all.item_sizes[i];
            }
        }
    }

    SECTION("pretty-printed, one event per item, in 1 to 7 byte reads") {
        const std::string input = pretty_array(events) + "\n" + pretty_array(events);
        for (std::size_t chunk = 1; chunk <= 7; chunk += 3) {
            ChunkedStream stream(input, chunk);
            const ReadAll all = read_all(stream, std::nullopt, 1);
            CHECK(problems_of(all).empty());
            REQUIRE(all.items.size() == 100);
            CHECK(all.items[0].line == 2);
            CHECK(all.items[50].line == 55);
            std::vector<std::string> twice = events;
            twice.insert(twice.end(), events.begin(), events.end());
            CHECK(events_of(all) == twice);
        }
    }

    SECTION("byte by byte") {
        const std::string input = R"( [{"a":"\\"}, {"b":"x\"]"} ,{"c":[1,{"d":2}]}] [{}])";
        ChunkedStream stream(input, 1);
        const ReadAll all = read_all(stream, std::nullopt, 2);
        CHECK(problems_of(all).empty());
        CHECK(events_of(all) == std::vector<std::string>{R"({"a":"\\"})", R"({"b":"x\"]"})",
                                                         R"({"c":[1,{"d":2}]})", "{}"});
        CHECK(all.item_sizes == std::vector<std::size_t>{2, 2});
    }

    SECTION("malformed elements are reported in order and skipped") {
        const std::string input = "[{\"a\":1}, 5,\n {\"b\":\"\xff\"}, {\"c\":2}]\n"
                                  "junk [{\"d\":3},]\n"
                                  "[{\"e\":4},,{\"f\":5}]";
        const ReadAll all = read_string(input);
        REQUIRE(all.entries.size() == 10);
        CHECK(all.entries[0].event == R"({"a":1})");
        CHECK(all.entries[1].problem);
        CHECK(all.entries[1].where.offset == 10);
        CHECK(all.entries[1].where.line == 1);
        CHECK(all.entries[1].where.message ==
              "array element: expected a JSON object, got a number");
        CHECK(all.entries[2].problem);
        CHECK(all.entries[2].where.offset == 20);
        CHECK(all.entries[2].where.line == 2);
        CHECK(all.entries[3].event == R"({"c":2})");
        CHECK(all.entries[4].problem);
        CHECK(all.entries[4].where.message == "unexpected data between JSON arrays");
        CHECK(all.entries[4].where.offset == input.find("junk"));
        CHECK(all.entries[4].where.line == 3);
        CHECK(all.entries[5].event == R"({"d":3})");
        CHECK(all.entries[6].problem);
        CHECK(all.entries[6].where.offset == input.find("]\n["));
        CHECK(all.entries[6].where.message == "expected an element after ','");
        CHECK(all.entries[7].event == R"({"e":4})");
        CHECK(all.entries[8].problem);
        CHECK(all.entries[8].where.message == "empty array element");
        CHECK(all.entries[8].where.offset == input.find(",,") + 1);
        CHECK(all.entries[8].where.line == 4);
        CHECK(all.entries[9].event == R"({"f":5})");
    }

    SECTION("a truncated array") {
        const std::string input = "[{\"a\":1},\n{\"b\":\"x";
        const ReadAll all = read_string(input);
        REQUIRE(all.entries.size() == 2);
        CHECK(all.entries[0].event == R"({"a":1})");
        CHECK(all.entries[1].where.message == "truncated input: the JSON array is not closed");
        CHECK(all.entries[1].where.offset == 10);
        CHECK(all.entries[1].where.line == 2);
    }

    SECTION("a truncated array ending in a backslash") {
        const ReadAll all = read_string("[{\"a\":1},{\"b\":\"x\\");
        REQUIRE(all.entries.size() == 2);
        CHECK(all.entries[1].where.offset == 9);
    }

    SECTION("empty input") {
        const ReadAll all = read_string("");
        CHECK(all.entries.empty());
        const ReadAll blank = read_string("  \n\n", InputFormat::array);
        CHECK(blank.entries.empty());
    }
}

TEST_CASE("EventReader::next ndjson", "[reader]") {
    const std::vector<std::string> events = split(bench_payload());
    std::string input;
    for (std::size_t i = 0; i < 10; ++i) {
        input += events[i] + (i == 3 ? "\r\n\n" : "\n"); // a CRLF and a blank line
    }

    SECTION("lines gathered into items") {
        const ReadAll all = read_string(input, std::nullopt, 4);
        CHECK(all.format == InputFormat::ndjson);
        CHECK(problems_of(all).empty());
        CHECK(all.item_sizes == std::vector<std::size_t>{4, 4, 2});
        CHECK(events_of(all) == std::vector<std::string>(events.begin(), events.begin() + 10));
        CHECK(all.items[0].line == 1);
        CHECK(all.items[1].line == 6);
    }

    SECTION("a malformed line in the middle") {
        std::string bad = input;
        const std::size_t at = bad.find('\n', bad.find('\n') + 1) + 1; // line 3
        bad.insert(at, "{\"kind\":\"custom\",\"key\":tru}\n[{\"kind\":\"custom\"}]\n");
        const ReadAll all = read_string(bad, std::nullopt, 1000);
        const auto problems = problems_of(all);
        REQUIRE(problems.size() == 2);
        CHECK(problems[0]->line == 3);
        CHECK(problems[0]->offset == at + 23);
        CHECK(problems[1]->line == 4);
        CHECK(problems[1]->message == "expected a JSON object, got an array");
        CHECK(events_of(all) == std::vector<std::string>(events.begin(), events.begin() + 10));
        CHECK(all.item_sizes == std::vector<std::size_t>{2, 8});
        REQUIRE(all.entries.size() == 12);
        CHECK(all.entries[2].problem);
        CHECK(all.entries[3].problem);
    }

    SECTION("a truncated last line") {
        const std::string cut = input + events[10].substr(0, 30);
        const ReadAll all = read_string(cut);
        const auto problems = problems_of(all);
        REQUIRE(problems.size() == 1);
        CHECK(problems[0]->message == "truncated last line");
        CHECK(problems[0]->line == 12);
        CHECK(events_of(all).size() == 10);
    }

    SECTION("a UTF-8 byte order mark before the first line") {
        const ReadAll all = read_string("\xEF\xBB\xBF" + input);
        CHECK(all.format == InputFormat::ndjson);
        CHECK(problems_of(all).empty());
        CHECK(events_of(all) == std::vector<std::string>(events.begin(), events.begin() + 10));
        // Problems count the mark's bytes: offsets are in the decoded input.
        const ReadAll bad = read_string("\xEF\xBB\xBF{\"a\":tru}\n" + events[0] + "\n");
        REQUIRE(problems_of(bad).size() == 1);
        CHECK(problems_of(bad)[0]->line == 1);
        CHECK(problems_of(bad)[0]->offset == 3 + 5);
        CHECK(events_of(bad) == std::vector<std::string>{events[0]});
    }

    SECTION("input that is no JSON at all") {
        const ReadAll all = read_string("hello\nworld\n");
        CHECK(all.format == InputFormat::ndjson);
        CHECK(problems_of(all).size() == 2);
    }

    SECTION("forced formats") {
        const ReadAll as_array = read_string(input, InputFormat::array);
        CHECK(as_array.format == InputFormat::array);
        CHECK_FALSE(problems_of(as_array).empty());
        const ReadAll as_capture = read_string(input, InputFormat::capture);
        CHECK(events_of(as_capture).empty());
        CHECK(problems_of(as_capture).size() == 10);
    }
}

TEST_CASE("EventReader::next gzip", "[reader]") {
    evrelay::test::ScratchDir dir;
    const std::vector<std::string> bodies = fixture_array_bodies();
    std::string captures;
    std::vector<std::string> expected;
    for (int round = 0; round < 50; ++round) {
        for (const std::string& body : bodies) {
            evrelay::append_capture_line(captures, make_record(body));
            for (const std::string& event : split(body)) {
                expected.push_back(event);
            }
        }
    }
    const std::string path = (dir / "capture.ndjson.gz").string();
    gzFile gz = gzopen(path.c_str(), "wb");
    REQUIRE(gz != nullptr);
    REQUIRE(gzwrite(gz, captures.data(), static_cast<unsigned>(captures.size())) ==
            static_cast<int>(captures.size()));
    REQUIRE(gzclose(gz) == Z_OK);

    auto input = InputStream::open(path);
    REQUIRE(input);
    EventReader reader(**input, std::nullopt);
    InputItem item;
    InputProblem problem;
    std::vector<std::string> got;
    while (true) {
        auto next = reader.next(item, problem);
        REQUIRE(next);
        REQUIRE(*next != EventReader::Next::malformed);
        if (*next == EventReader::Next::end) {
            break;
        }
        got.insert(got.end(), item.events.begin(), item.events.end());
    }
    CHECK(reader.format() == InputFormat::capture);
    CHECK(got == expected);
    CHECK(reader.raw_size() == std::filesystem::file_size(path));
    CHECK(reader.raw_bytes_read() == reader.raw_size());
    CHECK(reader.raw_size() < captures.size() / 4);
}
