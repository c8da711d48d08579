// A spool delivery pass (core/spool: SpoolDelivery, its segment reading, SpoolProgress's ".done"
// parser, the re-batcher, SpoolIngest) over a spool made of the input:
//
//   byte 0     bit 0 flush --payload-ids new (re-batching); bit 1 progress records batched;
//              bit 2 the upstream refuses every third payload in the first pass (the lines
//              stay for a second pass); bit 3 --max-age of 100 years; bit 4 the segment is
//              ".open" (its writer died) instead of ".seg"; bit 5 the rest is a file dropped in
//              incoming/ instead (replay formats, taken in by SpoolIngest)
//   then       the segment's ".done" file, up to a line "--segment--", then the segment's lines
//              (no such line: the whole rest is the segment, without a ".done" file)
//
// Passes run until one has nothing refused (at most two). Then the spool holds no segment and no
// progress file; every payload sent is a valid body of as many events as it says, whose upstream
// headers are field values; and the events of the lines not already done (plain line numbers in
// ".done") are each delivered, expired or dropped as an SDK retry's duplicate exactly once.

#include "tests/fuzz/fuzz_support.hpp"
#include "tests/fuzz/upstream_headers.hpp"

#include "core/input/event_reader.hpp"
#include "core/json/json_validator.hpp"
#include "core/spool/spool_delivery.hpp"
#include "core/spool/spool_directory.hpp"
#include "core/util/line_reader.hpp"

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <string_view>
#include <unistd.h>

using namespace evrelay;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view k_separator = "--segment--\n";
constexpr std::string_view k_segment_name = "20260101T000000.000000Z-1-000000";

// A scratch directory for the process's spools, removed at exit.
const fs::path& scratch_root() {
    static const fs::path root = [] {
        const char* base = std::getenv("TMPDIR");
        std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                              "/evrelay-fuzz-spool-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) {
            fuzz::fail("mkdtemp", pattern);
        }
        std::atexit([] {
            std::error_code ignored;
            fs::remove_all(scratch_root(), ignored);
        });
        return fs::path(pattern);
    }();
    return root;
}

void write_file(const fs::path& path, std::string_view content) {
    std::ofstream out(path, std::ios::binary);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    FUZZ_CHECK(out.good(), "cannot write " + path.string());
}

// The upstream: checks each payload, then reports its outcome at once, as the sender does
// from its own thread.
class CheckingSink final : public PayloadSink {
  public:
    SpoolDelivery* delivery = nullptr;
    bool refuse_some = false;
    std::size_t submitted = 0;

    void submit(Payload payload) override {
        check_payload(payload);
        fuzz::check_upstream_headers(payload);
        ++submitted;
        if (refuse_some && submitted % 3 == 0) {
            delivery->on_undeliverable(payload, Undeliverable::shutdown, 0);
        } else {
            delivery->on_delivered(payload);
        }
    }

  private:
    void check_payload(const Payload& payload) {
        const std::string buffer = fuzz::with_padding(payload.body);
        const JsonResult<void> valid = m_validator.validate(
            buffer.data(), std::string_view(buffer.data(), payload.body.size()));
        FUZZ_CHECK(valid.has_value(), "a payload body is not valid JSON: " + payload.body);
        if (payload.data == DataKind::diagnostic) {
            FUZZ_CHECK(m_validator.root_type() == JsonType::object && payload.event_count == 1,
                       "a diagnostic payload is not one object");
            return;
        }
        FUZZ_CHECK(m_validator.root_type() == JsonType::array &&
                       m_validator.parts().size() == payload.event_count,
                   "an analytics payload does not hold the events it counts");
        for (const JsonPart& event : m_validator.parts()) {
            FUZZ_CHECK(event.type == JsonType::object, "an analytics payload holds a non-object");
        }
    }

    JsonValidator m_validator;
};

// The line numbers a ".done" file records as done: whole lines holding a decimal number.
std::set<std::uint64_t> done_lines(std::string_view done) {
    std::set<std::uint64_t> lines;
    while (true) {
        const std::size_t newline = done.find('\n');
        if (newline == std::string_view::npos) {
            return lines; // a torn last record does not count
        }
        const std::string_view record = done.substr(0, newline);
        done.remove_prefix(newline + 1);
        std::uint64_t line = 0;
        const auto [end, error] =
            std::from_chars(record.data(), record.data() + record.size(), line);
        if (error == std::errc() && end == record.data() + record.size()) {
            lines.insert(line);
        }
    }
}

// The events of the valid lines (items) of `content` read as `format`, except those done.
std::uint64_t events_to_deliver(std::string content, std::optional<InputFormat> format,
                                const std::set<std::uint64_t>& done) {
    const auto input = util::InputStream::from_string(std::move(content), "reference");
    EventReader reader(*input, format, std::numeric_limits<std::size_t>::max());
    std::uint64_t events = 0;
    while (true) {
        InputItem item;
        InputProblem problem;
        const Result<EventReader::Next> next = reader.next(item, problem);
        if (!next || *next == EventReader::Next::end) {
            return events;
        }
        if (*next == EventReader::Next::item && done.count(item.line) == 0) {
            events += item.events.size();
        }
    }
}

std::size_t files_in(const fs::path& dir) {
    std::size_t n = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
        n += entry.is_regular_file() && entry.path().filename().string().front() != '.' ? 1 : 0;
    }
    return n;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const bool quiet = (fuzz::quiet_logs(), true);
    (void)quiet;
    if (size == 0) {
        return 0;
    }
    const std::uint8_t control = data[0];
    std::string_view rest = fuzz::as_text(data + 1, size - 1);
    const bool ingest = (control & 32) != 0;
    std::optional<std::string_view> done;
    if (!ingest && rest.find(k_separator) != std::string_view::npos) {
        done = fuzz::take_until(rest, k_separator);
    }

    const fs::path root = scratch_root() / "spool";
    std::error_code ignored;
    fs::remove_all(root, ignored);
    Result<SpoolDirectory> directory = SpoolDirectory::open(root);
    FUZZ_CHECK(directory.has_value(), "cannot make a spool directory");
    std::uint64_t expected = 0;
    if (ingest) {
        write_file(directory->incoming_dir() / "dropped.json", rest);
        expected = events_to_deliver(std::string(rest), std::nullopt, {});
    } else {
        const fs::path segment =
            root / (std::string(k_segment_name) + ((control & 16) != 0 ? ".open" : ".seg"));
        write_file(segment, rest);
        std::set<std::uint64_t> already;
        if (done) {
            // Progress is only ever recorded under the closed name: a pass renames an ".open"
            // segment to ".seg" before it opens the progress file.
            write_file(SpoolDirectory::progress_path(root / (std::string(k_segment_name) + ".seg")),
                       *done);
            already = done_lines(*done);
        }
        expected = events_to_deliver(std::string(rest), InputFormat::capture, already);
    }

    SpoolDeliveryOptions options;
    options.rebatch = (control & 1) != 0;
    options.batch_progress = (control & 2) != 0;
    options.max_events_per_payload = 7;
    options.max_bytes_per_payload = 4096;
    if ((control & 8) != 0) {
        options.max_age = std::chrono::hours(24 * 365 * 100);
    }
    std::uint64_t accounted = 0;
    for (int pass = 0; pass < 2; ++pass) {
        CheckingSink sink;
        sink.refuse_some = pass == 0 && (control & 4) != 0;
        SpoolDelivery delivery(*directory, sink, options, [](const InputProblem&) {});
        sink.delivery = &delivery;
        SpoolDeliveryStats stats;
        delivery.run(stats);
        FUZZ_CHECK(!stats.io_failed.load(), "the spool pass failed on its own files");
        accounted += stats.events_delivered + stats.events_expired + stats.events_duplicate;
        if (!sink.refuse_some) {
            break;
        }
    }
    for (const auto& entry : fs::directory_iterator(root)) {
        FUZZ_CHECK(!entry.is_regular_file() || entry.path().filename().string().front() == '.',
                   "the spool still holds " + entry.path().filename().string() +
                       " after every line was delivered");
    }
    FUZZ_CHECK(files_in(directory->incoming_dir()) == 0, "incoming/ still holds the file");
    FUZZ_CHECK(accounted == expected,
               "delivered, expired and duplicate events: " + std::to_string(accounted) +
                   ", expected " + std::to_string(expected));
    return 0;
}
