#include "tests/support/file_size_limit.hpp"
#include "tests/support/scratch_dir.hpp"
#include "tests/support/stalled_sync.hpp"

#include "core/input/event_reader.hpp"
#include "core/spool/spool_writer.hpp"
#include "core/util/uuid.hpp"

#include <catch2/catch.hpp>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <fcntl.h>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <regex>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace evrelay;
namespace fs = std::filesystem;

namespace {

using namespace std::chrono_literals;

// A capture line read back from a segment, with owned copies of its views.
struct SpooledLine {
    std::uint64_t line = 0;
    std::string env_name;
    SdkKind sdk = SdkKind::server;
    DataKind kind = DataKind::analytics;
    PayloadMetadata metadata;
    std::optional<std::string> payload_id;
    std::chrono::system_clock::time_point received{};
    std::string events_json;
    std::size_t events = 0;
};

struct ParsedSegment {
    std::vector<SpooledLine> lines;
    std::size_t malformed = 0;
    bool ends_with_newline = true;
};

ParsedSegment parse_segment(const fs::path& path) {
    ParsedSegment parsed;
    const std::string text = test::read_file(path);
    parsed.ends_with_newline = text.empty() || text.back() == '\n';
    auto input = util::InputStream::open(path.string());
    REQUIRE(input);
    EventReader reader(**input, InputFormat::capture, std::numeric_limits<std::size_t>::max());
    InputItem item;
    InputProblem problem;
    while (true) {
        auto next = reader.next(item, problem);
        REQUIRE(next);
        if (*next == EventReader::Next::end) {
            break;
        }
        if (*next == EventReader::Next::malformed) {
            ++parsed.malformed;
            continue;
        }
        REQUIRE(item.envelope);
        SpooledLine line;
        line.line = item.line;
        line.env_name = item.envelope->env_name;
        line.sdk = item.envelope->sdk;
        line.kind = item.envelope->kind;
        line.metadata = item.envelope->metadata;
        line.payload_id = item.envelope->payload_id;
        line.received = item.envelope->received;
        line.events_json = std::string(item.envelope->events_json);
        line.events = item.events.size();
        parsed.lines.push_back(std::move(line));
    }
    return parsed;
}

// Regular files directly in `dir` (hidden ones too), by name.
std::vector<std::string> files_in(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.is_regular_file()) {
            names.push_back(entry.path().filename().string());
        }
    }
    std::sort(names.begin(), names.end());
    return names;
}

std::vector<fs::path> with_suffix(const fs::path& dir, const std::string& suffix) {
    std::vector<fs::path> paths;
    for (const auto& name : files_in(dir)) {
        if (name.size() >= suffix.size() &&
            name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
            paths.push_back(dir / name);
        }
    }
    return paths;
}

// Every line of every closed segment, oldest segment first.
std::vector<SpooledLine> all_closed_lines(const fs::path& dir, std::size_t* malformed = nullptr) {
    std::vector<SpooledLine> lines;
    for (const auto& segment : with_suffix(dir, ".seg")) {
        ParsedSegment parsed = parse_segment(segment);
        CHECK(parsed.ends_with_newline);
        if (malformed != nullptr) {
            *malformed += parsed.malformed;
        }
        for (auto& line : parsed.lines) {
            lines.push_back(std::move(line));
        }
    }
    return lines;
}

bool lockable(const fs::path& path) {
    util::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    REQUIRE(fd);
    return ::flock(fd.get(), LOCK_EX | LOCK_NB) == 0;
}

CaptureRecord make_record(const std::string& id, std::string_view events_json) {
    CaptureRecord record;
    record.received =
        std::chrono::system_clock::time_point(std::chrono::milliseconds(1795736414669));
    record.env_name = "production";
    record.sdk = SdkKind::js;
    record.kind = DataKind::analytics;
    record.metadata = PayloadMetadata{4, "application-id/web"};
    record.payload_id = id;
    record.events_json = events_json;
    return record;
}

SpoolDirectory open_spool(const test::ScratchDir& scratch) {
    auto spool = SpoolDirectory::open(scratch / "spool");
    REQUIRE(spool);
    return *spool;
}

} // namespace

TEST_CASE("SpoolWriter: the open segment", "[spool]") {
    test::ScratchDir scratch;
    const SpoolDirectory spool = open_spool(scratch);
    const fs::path root = spool.root();
    SpoolWriter writer(spool, SpoolWriterOptions{});

    SECTION("nothing exists before the first append") {
        CHECK(files_in(root).empty());
    }

    SECTION("the first append creates <stem>.open, 0600, locked by the writer") {
        REQUIRE(writer.append(make_record("id-1", R"([{"kind":"custom","key":"a"}])")));
        CHECK(writer.lines_written() == 1);

        const auto names = files_in(root);
        REQUIRE(names.size() == 1); // no .tmp left behind, no .seg yet
        const std::string name = names.front();
        CHECK(std::regex_match(name, std::regex(R"(\d{8}T\d{6}\.\d{6}Z-\d+-\d+\.open)")));
        const fs::path open_path = root / name;

        struct stat info {};
        REQUIRE(::stat(open_path.c_str(), &info) == 0);
        CHECK((info.st_mode & 0777) == 0600);
        CHECK_FALSE(lockable(open_path));
        CHECK(spool.open_segment_count() == 1);
        CHECK(spool.closed_segments().empty());

        // Readers see the line at once, even before the segment is closed.
        const ParsedSegment parsed = parse_segment(open_path);
        REQUIRE(parsed.lines.size() == 1);
        CHECK(parsed.lines[0].payload_id == "id-1");

        // Later appends go to the same file.
        REQUIRE(writer.append(make_record("id-2", R"([{"kind":"custom","key":"b"}])")));
        CHECK(files_in(root) == std::vector<std::string>{name});
        CHECK(parse_segment(open_path).lines.size() == 2);
    }
}

TEST_CASE("SpoolWriter: lines are capture lines", "[spool]") {
    test::ScratchDir scratch;
    const SpoolDirectory spool = open_spool(scratch);
    const auto created =
        std::chrono::system_clock::time_point(std::chrono::milliseconds(1795736414123));

    {
        SpoolWriter writer(spool, SpoolWriterOptions{});
        REQUIRE(writer.append(make_record("11111111-2222-4333-8444-555555555555",
                                          R"([{"kind":"custom","key":"a"},{"kind":"identify"}])")));

        Payload payload;
        payload.id = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
        payload.env_name = "staging";
        payload.sdk = SdkKind::mobile;
        payload.data = DataKind::analytics;
        payload.metadata = PayloadMetadata{3, "application-id/ios application-version/2"};
        payload.body = R"([{"kind":"feature","key":"flag"}])";
        payload.event_count = 1;
        payload.created = created;
        payload.origin = 0;
        REQUIRE(writer.append(payload));

        Payload diagnostic;
        diagnostic.env_name = "staging";
        diagnostic.sdk = SdkKind::server;
        diagnostic.data = DataKind::diagnostic;
        diagnostic.metadata = PayloadMetadata{1, ""};
        diagnostic.body = R"({"kind":"diagnostic","id":{"diagnosticId":"d"}})";
        diagnostic.event_count = 1;
        diagnostic.created = created;
        REQUIRE(writer.append(diagnostic));
        CHECK(writer.lines_written() == 3);
        CHECK(writer.write_errors() == 0);
    }

    // The destructor closed the segment.
    const auto segments = with_suffix(spool.root(), ".seg");
    REQUIRE(segments.size() == 1);
    CHECK(with_suffix(spool.root(), ".open").empty());
    const ParsedSegment parsed = parse_segment(segments[0]);
    CHECK(parsed.malformed == 0);
    CHECK(parsed.ends_with_newline);
    REQUIRE(parsed.lines.size() == 3);

    const SpooledLine& record = parsed.lines[0];
    CHECK(record.line == 1);
    CHECK(record.payload_id == "11111111-2222-4333-8444-555555555555");
    CHECK(record.env_name == "production");
    CHECK(record.sdk == SdkKind::js);
    CHECK(record.kind == DataKind::analytics);
    CHECK(record.metadata == PayloadMetadata{4, "application-id/web"});
    CHECK(record.events_json == R"([{"kind":"custom","key":"a"},{"kind":"identify"}])");
    CHECK(record.events == 2);
    CHECK(record.received ==
          std::chrono::system_clock::time_point(std::chrono::milliseconds(1795736414669)));

    const SpooledLine& from_payload = parsed.lines[1];
    CHECK(from_payload.line == 2);
    CHECK(from_payload.payload_id == "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee");
    CHECK(from_payload.env_name == "staging");
    CHECK(from_payload.sdk == SdkKind::mobile);
    CHECK(from_payload.kind == DataKind::analytics);
    CHECK(from_payload.metadata == PayloadMetadata{3, "application-id/ios application-version/2"});
    CHECK(from_payload.events_json == R"([{"kind":"feature","key":"flag"}])");
    CHECK(from_payload.received == created);

    const SpooledLine& diag = parsed.lines[2];
    CHECK(diag.kind == DataKind::diagnostic);
    CHECK_FALSE(diag.payload_id.has_value()); // diagnostics carry no payload ID (SPEC §2)
    CHECK(diag.events_json == R"({"kind":"diagnostic","id":{"diagnosticId":"d"}})");
    CHECK(diag.metadata == PayloadMetadata{1, ""});
}

TEST_CASE("SpoolWriter: rotation and close", "[spool]") {
    test::ScratchDir scratch;
    const SpoolDirectory spool = open_spool(scratch);
    const fs::path root = spool.root();
    std::atomic<int> closed_calls{0};
    SpoolWriterOptions options;
    options.on_segment_closed = [&closed_calls] { closed_calls.fetch_add(1); };
    const std::string events = R"([{"kind":"custom","key":"k"}])";

    // A segment taken off the writer may be synced and renamed in the background (the next
    // append does not wait for that); close() waits for it. So the counts are checked after
    // close(), where rotation shows as more than one segment.
    SECTION("by segment_bytes: a segment is closed once it reaches the size") {
        std::string one_line;
        append_capture_line(one_line, make_record("id-0", events));
        options.segment_bytes = 2 * one_line.size(); // ids of equal length: equal line sizes
        SpoolWriter writer(spool, options);
        for (int i = 0; i < 5; ++i) {
            REQUIRE(writer.append(make_record("id-" + std::to_string(i), events)));
        }
        CHECK(with_suffix(root, ".open").size() <= 3);
        writer.close();
        CHECK(with_suffix(root, ".open").empty());
        const auto segments = with_suffix(root, ".seg");
        REQUIRE(segments.size() == 3);
        CHECK(fs::file_size(segments[0]) == 2 * one_line.size());
        CHECK(fs::file_size(segments[1]) == 2 * one_line.size());
        CHECK(fs::file_size(segments[2]) == one_line.size());
        for (const auto& segment : segments) {
            CHECK(lockable(segment));
        }
        CHECK(writer.segments_closed() == 3);
        CHECK(closed_calls.load() == 3);
        // Name order is append order.
        const auto lines = all_closed_lines(root);
        REQUIRE(lines.size() == 5);
        for (int i = 0; i < 5; ++i) {
            CHECK(lines[i].payload_id == "id-" + std::to_string(i));
        }
    }

    SECTION("segment_bytes smaller than a line: one line per segment") {
        options.segment_bytes = 1;
        SpoolWriter writer(spool, options);
        for (int i = 0; i < 3; ++i) {
            REQUIRE(writer.append(make_record("id-" + std::to_string(i), events)));
        }
        writer.close();
        CHECK(with_suffix(root, ".seg").size() == 3);
        CHECK(with_suffix(root, ".open").empty());
        CHECK(closed_calls.load() == 3);
        CHECK(writer.segments_closed() == 3);
        for (const auto& segment : with_suffix(root, ".seg")) {
            CHECK(parse_segment(segment).lines.size() == 1);
        }
    }

    SECTION("by segment_age: rotate_if_due closes a segment older than the age") {
        options.segment_age = 100ms;
        SpoolWriter writer(spool, options);
        REQUIRE(writer.append(make_record("id-0", events)));
        std::this_thread::sleep_for(250ms);
        writer.rotate_if_due();
        // The next line goes to a new segment.
        REQUIRE(writer.append(make_record("id-1", events)));
        writer.close();
        CHECK(with_suffix(root, ".open").empty());
        const auto segments = with_suffix(root, ".seg");
        REQUIRE(segments.size() == 2);
        CHECK(parse_segment(segments[0]).lines.at(0).payload_id == "id-0");
        CHECK(parse_segment(segments[1]).lines.at(0).payload_id == "id-1");
        CHECK(closed_calls.load() == 2);
        // Nothing open: another rotate does nothing.
        writer.rotate_if_due();
        writer.close();
        CHECK(closed_calls.load() == 2);
        CHECK(files_in(root).size() == 2);
    }

    SECTION("rotate_if_due leaves a young segment open") {
        options.segment_age = std::chrono::hours(1);
        SpoolWriter writer(spool, options);
        writer.rotate_if_due(); // nothing open yet: nothing to do
        CHECK(files_in(root).empty());
        REQUIRE(writer.append(make_record("id-0", events)));
        writer.rotate_if_due();
        CHECK(with_suffix(root, ".open").size() == 1);
        REQUIRE(writer.append(make_record("id-1", events)));
        writer.close();
        const auto segments = with_suffix(root, ".seg");
        REQUIRE(segments.size() == 1);
        CHECK(parse_segment(segments[0]).lines.size() == 2);
        CHECK(closed_calls.load() == 1);
    }

    SECTION("close() renames to .seg, releases the lock and calls on_segment_closed") {
        SpoolWriter writer(spool, options);
        REQUIRE(writer.append(make_record("id-0", events)));
        const auto open = with_suffix(root, ".open");
        REQUIRE(open.size() == 1);
        std::string stem = open[0].filename().string();
        stem.resize(stem.size() - std::string(".open").size());

        writer.close();
        CHECK(files_in(root) == std::vector<std::string>{stem + ".seg"});
        CHECK(lockable(root / (stem + ".seg")));
        CHECK(closed_calls.load() == 1);
        CHECK(writer.segments_closed() == 1);
        CHECK(spool.closed_segments() == std::vector<fs::path>{root / (stem + ".seg")});

        writer.close(); // nothing open: no-op
        CHECK(closed_calls.load() == 1);

        // The next append starts a new segment with a new name.
        REQUIRE(writer.append(make_record("id-1", events)));
        const auto reopened = with_suffix(root, ".open");
        REQUIRE(reopened.size() == 1);
        CHECK(reopened[0].filename().string() != stem + ".open");
        writer.close();
        const auto lines = all_closed_lines(root);
        REQUIRE(lines.size() == 2);
        CHECK(lines[0].payload_id == "id-0");
        CHECK(lines[1].payload_id == "id-1");
    }

    SECTION("an empty writer's close() leaves no file") {
        {
            SpoolWriter writer(spool, options);
            writer.close();
            CHECK(files_in(root).empty());
        }
        CHECK(files_in(root).empty());
        CHECK(closed_calls.load() == 0);
    }

    SECTION("discard() deletes the open segment") {
        SpoolWriter writer(spool, options);
        REQUIRE(writer.append(make_record("id-0", events)));
        REQUIRE(writer.append(make_record("id-1", events)));
        writer.discard();
        CHECK(files_in(root).empty());
        CHECK(closed_calls.load() == 0);
        CHECK(writer.segments_closed() == 0);

        // The writer goes on with a new segment.
        REQUIRE(writer.append(make_record("id-2", events)));
        writer.close();
        const auto lines = all_closed_lines(root);
        REQUIRE(lines.size() == 1);
        CHECK(lines[0].payload_id == "id-2");
        CHECK(closed_calls.load() == 1);
    }

    SECTION("durable appends write the same lines") {
        options.durable = true;
        SpoolWriter writer(spool, options);
        REQUIRE(writer.append(make_record("id-0", events)));
        REQUIRE(writer.append(make_record("id-1", events)));
        writer.close();
        const auto lines = all_closed_lines(root);
        REQUIRE(lines.size() == 2);
        CHECK(lines[1].payload_id == "id-1");
    }
}

TEST_CASE("SpoolWriter: concurrent appends", "[spool]") {
    test::ScratchDir scratch;
    const SpoolDirectory spool = open_spool(scratch);
    const fs::path root = spool.root();
    std::atomic<int> closed_calls{0};
    SpoolWriterOptions options;
    options.on_segment_closed = [&closed_calls] { closed_calls.fetch_add(1); };
    int threads = 8;
    int per_thread = 250;
    bool closer = false;

    SECTION("not durable, rotating by size") {
        options.segment_bytes = 16 * 1024;
    }
    SECTION("durable (group commit), rotating by size") {
        options.durable = true;
        options.segment_bytes = 16 * 1024;
        per_thread = 100;
    }
    SECTION("while another thread closes and rotates the segment") {
        options.segment_age = 1ms;
        closer = true;
    }

    // Lines of different lengths, so that a torn or interleaved line could not go unnoticed.
    std::vector<std::string> bodies;
    for (int i = 0; i < 7; ++i) {
        bodies.push_back(R"([{"kind":"custom","pad":")" + std::string(50 + 300 * i, 'a' + i) +
                         R"("}])");
    }

    SpoolWriter writer(spool, options);
    std::atomic<int> failures{0};
    std::atomic<bool> appending{true};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
                if (!writer.append(make_record(id, bodies[(t + i) % bodies.size()]))) {
                    failures.fetch_add(1);
                }
            }
        });
    }
    std::thread rotator;
    if (closer) {
        rotator = std::thread([&] {
            while (appending.load()) {
                writer.rotate_if_due();
                writer.close();
                std::this_thread::yield();
            }
        });
    }
    for (auto& worker : workers) {
        worker.join();
    }
    appending.store(false);
    if (rotator.joinable()) {
        rotator.join();
    }
    writer.close();

    CHECK(failures.load() == 0);
    CHECK(writer.write_errors() == 0);
    CHECK(writer.lines_written() == static_cast<std::uint64_t>(threads * per_thread));
    CHECK(with_suffix(root, ".open").empty());
    CHECK(files_in(root).size() == with_suffix(root, ".seg").size()); // no .tmp left
    CHECK(writer.segments_closed() == with_suffix(root, ".seg").size());
    CHECK(closed_calls.load() == static_cast<int>(with_suffix(root, ".seg").size()));
    if (!closer) {
        CHECK(with_suffix(root, ".seg").size() > 1);
    }

    std::size_t malformed = 0;
    const auto lines = all_closed_lines(root, &malformed);
    CHECK(malformed == 0);
    CHECK(lines.size() == static_cast<std::size_t>(threads * per_thread));
    std::map<std::string, int> seen;
    std::map<int, int> last_index_of_thread;
    for (const auto& line : lines) {
        REQUIRE(line.payload_id);
        ++seen[*line.payload_id];
        // Each thread's lines appear in the order it appended them.
        const std::string& id = *line.payload_id;
        const auto dash = id.find('-');
        const int t = std::stoi(id.substr(1, dash - 1));
        const int i = std::stoi(id.substr(dash + 1));
        CHECK(line.events_json == bodies[(t + i) % bodies.size()]);
        auto [previous, inserted] = last_index_of_thread.emplace(t, i);
        if (!inserted) {
            CHECK(previous->second < i);
            previous->second = i;
        }
    }
    CHECK(seen.size() == static_cast<std::size_t>(threads * per_thread));
    for (const auto& [id, count] : seen) {
        INFO(id);
        CHECK(count == 1);
    }
}

namespace {} // namespace

TEST_CASE("SpoolWriter: a failing write leaves only whole lines", "[spool]") {
    test::ScratchDir scratch;
    const SpoolDirectory spool = open_spool(scratch);
    const fs::path root = spool.root();
    const std::string big = R"([{"kind":"custom","pad":")" + std::string(400, 'x') + R"("}])";
    std::string one_line;
    append_capture_line(one_line, make_record("big-0", big));
    const std::size_t line_size = one_line.size();
    bool durable = GENERATE(false, true);
    CAPTURE(durable);

    SECTION("a write past the limit fails; the segment keeps the whole lines before it") {
        // Room for three lines and a part of the fourth.
        const rlim_t limit = 3 * line_size + line_size / 2;
        const int status = test::run_with_file_size_limit(limit, [&] {
            SpoolWriterOptions options;
            options.durable = durable;
            SpoolWriter writer(spool, options);
            int failed_at = -1;
            Error error{ErrorKind::invalid_input, ""};
            for (int i = 0; i < 6; ++i) {
                auto written = writer.append(make_record("big-" + std::to_string(i), big));
                if (!written) {
                    failed_at = i;
                    error = written.error();
                    break;
                }
            }
            // A line that still fits after the failed one was cut off is written.
            auto small = writer.append(make_record("small", R"([{"kind":"custom"}])"));
            // One bit per expectation that did not hold, for the parent to report.
            const int wrong = (failed_at == 3 ? 0 : 1) | (error.kind == ErrorKind::io ? 0 : 2) |
                              (writer.write_errors() == 1 ? 0 : 4) |
                              (writer.lines_written() == 4 ? 0 : 8) | (small ? 0 : 16);
            writer.close();
            return wrong;
        });
        CHECK(status == 0);

        const auto segments = with_suffix(root, ".seg");
        REQUIRE(segments.size() == 1);
        CHECK(files_in(root).size() == 1);
        const ParsedSegment parsed = parse_segment(segments[0]);
        CHECK(parsed.ends_with_newline);
        CHECK(parsed.malformed == 0);
        std::vector<std::string> ids;
        for (const auto& line : parsed.lines) {
            ids.push_back(line.payload_id.value_or(""));
        }
        CHECK(ids == std::vector<std::string>{"big-0", "big-1", "big-2", "small"});
        std::string small_line;
        append_capture_line(small_line, make_record("small", R"([{"kind":"custom"}])"));
        CHECK(fs::file_size(segments[0]) == 3 * line_size + small_line.size());
    }

    SECTION("a first write that fails leaves no segment at all") {
        const int status = test::run_with_file_size_limit(line_size / 2, [&] {
            SpoolWriterOptions options;
            options.durable = durable;
            SpoolWriter writer(spool, options);
            auto first = writer.append(make_record("big-0", big));
            auto second = writer.append(make_record("big-1", big));
            const bool ok = !first && !second && writer.write_errors() == 2 &&
                            writer.lines_written() == 0 && writer.segments_closed() == 0;
            writer.close();
            return ok ? 0 : 1;
        });
        CHECK(status == 0);
        CHECK(files_in(root).empty());
    }
}

namespace {

// Outcomes of append_async() completions, in the order they were called.
struct Completions {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<std::pair<std::string, Result<void>>> outcomes;

    SpoolWriter::AppendDone for_line(std::string id) {
        return [this, id = std::move(id)](Result<void> outcome) {
            std::lock_guard lock(mutex);
            outcomes.emplace_back(id, std::move(outcome));
            changed.notify_all();
        };
    }
    bool wait_for(std::size_t count, std::chrono::milliseconds within = 10s) {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, within, [&] { return outcomes.size() >= count; });
    }
    std::size_t count() {
        std::lock_guard lock(mutex);
        return outcomes.size();
    }
    std::size_t failed() {
        std::lock_guard lock(mutex);
        return static_cast<std::size_t>(std::count_if(
            outcomes.begin(), outcomes.end(), [](const auto& outcome) { return !outcome.second; }));
    }
};

// A gate a completion waits at: it keeps the committer thread busy, so that what is appended
// meanwhile collects in one group (deterministically, whatever the disk's speed).
struct Gate {
    std::mutex mutex;
    std::condition_variable changed;
    bool entered = false;
    bool open = false;

    void pass() {
        std::unique_lock lock(mutex);
        entered = true;
        changed.notify_all();
        changed.wait_for(lock, 10s, [this] { return open; });
    }
    bool wait_entered() {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, 10s, [this] { return entered; });
    }
    void release() {
        std::lock_guard lock(mutex);
        open = true;
        changed.notify_all();
    }
};

// Appends "first" and keeps the committer inside its completion until gate.release(): what is
// appended meanwhile waits for the next group.
void hold_committer(SpoolWriter& writer, Gate& gate, Completions& done, const std::string& events) {
    writer.append_async(writer.prepare(make_record("first", events)), [&](Result<void> outcome) {
        done.for_line("first")(std::move(outcome));
        gate.pass();
    });
    REQUIRE(gate.wait_entered());
}

} // namespace

TEST_CASE("SpoolWriter::append_async", "[spool]") {
    test::ScratchDir scratch;
    const SpoolDirectory spool = open_spool(scratch);
    const fs::path root = spool.root();
    const std::string events = R"([{"kind":"custom","key":"k"}])";
    SpoolWriterOptions options;
    options.durable = true;

    SECTION("a completion is called once its line is in the segment") {
        std::uint64_t size_seen = 0;
        Completions done;
        SpoolWriter writer(spool, options);
        writer.append_async(writer.prepare(make_record("id-0", events), 1),
                            [&](Result<void> outcome) {
                                const auto open = with_suffix(root, ".open");
                                if (outcome && open.size() == 1) {
                                    size_seen = fs::file_size(open[0]);
                                }
                                done.for_line("id-0")(std::move(outcome));
                            });
        REQUIRE(done.wait_for(1));
        std::string line;
        append_capture_line(line, make_record("id-0", events));
        CHECK(size_seen == line.size());
        CHECK(done.failed() == 0);
        CHECK(writer.lines_written() == 1);
        CHECK(writer.groups_written() == 1);
        writer.close();
        const auto lines = all_closed_lines(root);
        REQUIRE(lines.size() == 1);
        CHECK(lines[0].payload_id == "id-0");
        CHECK(lines[0].events_json == events);
    }

    SECTION("appends made while a group is written share the next group (one fdatasync)") {
        Gate gate;
        Completions done;
        SpoolWriter writer(spool, options);
        hold_committer(writer, gate, done, events);
        constexpr int threads = 8;
        constexpr int per_thread = 50;
        std::vector<std::thread> appenders;
        for (int t = 0; t < threads; ++t) {
            appenders.emplace_back([&, t] {
                for (int i = 0; i < per_thread; ++i) {
                    const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
                    writer.append_async(writer.prepare(make_record(id, events)), done.for_line(id));
                }
            });
        }
        for (auto& appender : appenders) {
            appender.join();
        }
        CHECK(done.count() == 1); // the rest waits for the committer
        gate.release();
        REQUIRE(done.wait_for(1 + threads * per_thread));
        CHECK(done.failed() == 0);
        CHECK(writer.groups_written() == 2);
        CHECK(writer.lines_written() == 1 + threads * per_thread);
        writer.close();
        const auto lines = all_closed_lines(root);
        CHECK(lines.size() == 1 + threads * per_thread);
    }

    SECTION("a synchronous append leads a group with queued asynchronous lines") {
        Gate gate;
        Completions done;
        SpoolWriter writer(spool, options);
        hold_committer(writer, gate, done, events);
        writer.append_async(writer.prepare(make_record("async-1", events)),
                            done.for_line("async-1"));
        writer.append_async(writer.prepare(make_record("async-2", events)),
                            done.for_line("async-2"));
        CHECK(writer.append(make_record("sync", events))); // leads: the committer is busy
        CHECK(done.wait_for(3));
        CHECK(writer.groups_written() == 2);
        gate.release();
        writer.close();
        CHECK(done.failed() == 0);
        CHECK(writer.lines_written() == 4);
        const auto lines = all_closed_lines(root);
        REQUIRE(lines.size() == 4);
        CHECK(lines[3].payload_id == "sync");
    }

    SECTION("close() writes what is queued and waits for running completions") {
        Gate gate;
        Completions done;
        SpoolWriter writer(spool, options);
        hold_committer(writer, gate, done, events);
        for (int i = 0; i < 3; ++i) {
            const std::string id = "queued-" + std::to_string(i);
            writer.append_async(writer.prepare(make_record(id, events)), done.for_line(id));
        }
        std::atomic<bool> closed{false};
        std::thread closer([&] {
            writer.close();
            closed = true;
        });
        CHECK(done.wait_for(4)); // close() led the queued group itself
        std::this_thread::sleep_for(50ms);
        CHECK_FALSE(closed.load()); // the first completion still runs
        gate.release();
        closer.join();
        CHECK(closed.load());
        CHECK(with_suffix(root, ".open").empty());
        const auto lines = all_closed_lines(root);
        REQUIRE(lines.size() == 4);
        CHECK(lines[3].payload_id == "queued-2");
    }

    SECTION("the destructor completes what is still queued") {
        Completions done;
        {
            SpoolWriter writer(spool, options);
            for (int i = 0; i < 20; ++i) {
                const std::string id = "id-" + std::to_string(i);
                writer.append_async(writer.prepare(make_record(id, events)), done.for_line(id));
            }
        }
        CHECK(done.count() == 20);
        CHECK(done.failed() == 0);
        CHECK(all_closed_lines(root).size() == 20);
        CHECK(files_in(root).size() == 1);
    }

    SECTION("indexed lines keep their index entries") {
        options.max_indexed_lines = 100;
        Completions done;
        fs::path closed;
        {
            SpoolWriter writer(spool, options);
            for (int i = 0; i < 5; ++i) {
                const std::string id = "id-" + std::to_string(i);
                writer.append_async(writer.prepare(make_record(id, events), 1), done.for_line(id));
            }
            REQUIRE(done.wait_for(5));
            writer.close();
            const auto segments = with_suffix(root, ".seg");
            REQUIRE(segments.size() == 1);
            const auto index = writer.index_of(segments[0]);
            REQUIRE(index);
            REQUIRE(index->size() == 5);
            const std::string text = test::read_file(segments[0]);
            for (std::size_t i = 0; i < index->size(); ++i) {
                const auto& entry = (*index)[i];
                CHECK(entry.payload_id == "id-" + std::to_string(i));
                CHECK(text.substr(entry.events_offset, entry.events_length) == events);
            }

            // Delivered (removed), its index goes at the next close; a segment still there keeps
            // its own.
            fs::remove(segments[0]);
            for (const std::string id : {"id-5", "id-6"}) {
                writer.append_async(writer.prepare(make_record(id, events), 1), done.for_line(id));
                REQUIRE(done.wait_for(id == "id-5" ? 6 : 7));
                writer.close();
            }
            const auto kept = with_suffix(root, ".seg");
            REQUIRE(kept.size() == 2);
            CHECK(writer.index_of(segments[0]) == nullptr);
            CHECK(writer.index_of(kept[0]) != nullptr);
            CHECK(writer.index_of(kept[1]) != nullptr);
        }
    }
}

TEST_CASE("SpoolWriter::append_async: a failed group fails every append in it", "[spool]") {
    test::ScratchDir scratch;
    const SpoolDirectory spool = open_spool(scratch);
    const fs::path root = spool.root();
    const std::string big = R"([{"kind":"custom","pad":")" + std::string(400, 'x') + R"("}])";
    std::string one_line;
    append_capture_line(one_line, make_record("big-0", big));
    const std::size_t line_size = one_line.size();

    // Room for two lines and a half: the first group (one line) fits, the second (four) does not.
    const int status = test::run_with_file_size_limit(2 * line_size + line_size / 2, [&] {
        SpoolWriterOptions options;
        options.durable = true;
        Gate gate;
        Completions done;
        SpoolWriter writer(spool, options);
        writer.append_async(writer.prepare(make_record("big-0", big)), [&](Result<void> outcome) {
            done.for_line("big-0")(std::move(outcome));
            gate.pass();
        });
        if (!gate.wait_entered()) {
            return 64;
        }
        for (int i = 1; i <= 4; ++i) {
            const std::string id = "big-" + std::to_string(i);
            writer.append_async(writer.prepare(make_record(id, big)), done.for_line(id));
        }
        gate.release();
        if (!done.wait_for(5)) {
            return 65;
        }
        // A line that fits after the failed group was cut off is written.
        Completions after;
        writer.append_async(writer.prepare(make_record("big-5", big)), after.for_line("big-5"));
        if (!after.wait_for(1)) {
            return 66;
        }
        bool io_errors = true;
        for (std::size_t i = 1; i < done.outcomes.size(); ++i) {
            io_errors = io_errors && !done.outcomes[i].second &&
                        done.outcomes[i].second.error().kind == ErrorKind::io;
        }
        const int wrong = (done.outcomes[0].second ? 0 : 1) | (io_errors ? 0 : 2) |
                          (writer.write_errors() == 4 ? 0 : 4) |
                          (writer.lines_written() == 2 ? 0 : 8) | (after.failed() == 0 ? 0 : 16) |
                          (writer.groups_written() == 3 ? 0 : 32);
        writer.close();
        return wrong;
    });
    CHECK(status == 0);
    const auto segments = with_suffix(root, ".seg");
    REQUIRE(segments.size() == 1);
    const ParsedSegment parsed = parse_segment(segments[0]);
    CHECK(parsed.malformed == 0);
    std::vector<std::string> ids;
    for (const auto& line : parsed.lines) {
        ids.push_back(line.payload_id.value_or(""));
    }
    CHECK(ids == std::vector<std::string>{"big-0", "big-5"});
}

TEST_CASE("SpoolWriter: a stalled fdatasync holds its group's completions", "[spool]") {
    test::ScratchDir scratch;
    const SpoolDirectory spool = open_spool(scratch);
    const fs::path root = spool.root();
    const std::string events = R"([{"kind":"custom","key":"k"}])";
    test::StalledSync disk;
    SpoolWriterOptions options;
    options.durable = true;
    options.sync_data = disk.hook();
    Completions done;
    SpoolWriter writer(spool, options);
    writer.append_async(writer.prepare(make_record("stalled", events)), done.for_line("stalled"));
    REQUIRE(disk.wait_entered(1));
    // Written, not synced: the line is in the file, its completion waits for the sync.
    CHECK(with_suffix(root, ".open").size() == 1);
    writer.append_async(writer.prepare(make_record("next", events)), done.for_line("next"));
    CHECK_FALSE(done.wait_for(1, 200ms));
    disk.release();
    REQUIRE(done.wait_for(2));
    CHECK(done.failed() == 0);
    CHECK(writer.groups_written() == 2);
    writer.close();
    const auto lines = all_closed_lines(root);
    REQUIRE(lines.size() == 2);
    CHECK(lines[0].payload_id == "stalled");
    CHECK(lines[1].payload_id == "next");
}

TEST_CASE("SpoolWriter::rotate_if_due does not wait for a stalled fdatasync", "[spool]") {
    test::ScratchDir scratch;
    const SpoolDirectory spool = open_spool(scratch);
    const fs::path root = spool.root();
    const std::string events = R"([{"kind":"custom","key":"k"}])";
    test::StalledSync disk;
    SpoolWriterOptions options;
    options.durable = true;
    options.segment_age = 1ms;
    options.sync_data = disk.hook();
    Completions done;
    SpoolWriter writer(spool, options);
    writer.append_async(writer.prepare(make_record("stalled", events)), done.for_line("stalled"));
    REQUIRE(disk.wait_entered(1));
    std::this_thread::sleep_for(5ms); // the segment is due
    // The serve timer's call: it must come back at once (it runs on a server thread).
    auto rotated = std::async(std::launch::async, [&writer] { writer.rotate_if_due(); });
    CHECK(rotated.wait_for(2s) == std::future_status::ready);
    CHECK(with_suffix(root, ".seg").empty());
    disk.release();
    REQUIRE(done.wait_for(1));
    writer.wait_for_closer();
    // The leader closed the due segment once its group was written.
    CHECK(with_suffix(root, ".seg").size() == 1);
    CHECK(with_suffix(root, ".open").empty());
}
