#include "core/util/gzip.hpp"
#include "core/util/line_reader.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using evrelay::ErrorKind;
using evrelay::util::GzipCompressor;
using evrelay::util::InputStream;
using evrelay::util::LineReader;

namespace {

// A private scratch directory per test, removed at the end (tests/support's ScratchDir is not
// used so that these util tests depend on nothing else).
class LocalScratch {
  public:
    LocalScratch() {
        static std::atomic<int> counter{0};
        m_path =
            std::filesystem::temp_directory_path() /
            ("evrelay-test-util-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) +
             "-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
        std::filesystem::create_directories(m_path);
    }
    ~LocalScratch() {
        std::error_code ignored;
        std::filesystem::remove_all(m_path, ignored);
    }
    LocalScratch(const LocalScratch&) = delete;
    LocalScratch& operator=(const LocalScratch&) = delete;

    std::string write(const std::string& name, const std::string& content) const {
        const std::filesystem::path path = m_path / name;
        std::ofstream out(path, std::ios::binary);
        out.write(content.data(), static_cast<std::streamsize>(content.size()));
        REQUIRE(out.good());
        return path.string();
    }
    const std::filesystem::path& path() const { return m_path; }

  private:
    std::filesystem::path m_path;
};

std::string gzip(std::string_view text) {
    GzipCompressor compressor;
    std::string out;
    compressor.compress(text, out);
    return out;
}

struct Collected {
    std::vector<std::string> texts;
    std::vector<LineReader::Line> lines; // views not valid: only numbers/offsets/terminated
};

Collected read_all(InputStream& input, std::size_t max_line_bytes = 256u << 20) {
    LineReader reader(input, max_line_bytes);
    Collected collected;
    LineReader::Line line{};
    for (;;) {
        auto more = reader.next(line);
        INFO((more ? std::string() : more.error().message));
        REQUIRE(more.has_value());
        if (!*more) {
            break;
        }
        // The padding guarantee: these bytes must be readable (ASan checks the claim).
        volatile char sink = 0;
        for (std::size_t i = 0; i < InputStream::k_padding; ++i) {
            sink = sink + line.text.data()[line.text.size() + i];
        }
        collected.texts.emplace_back(line.text);
        collected.lines.push_back(line);
    }
    return collected;
}

// Hands out its data a few bytes at a time, as a pipe or a slow decoder may.
class ChunkedStream final : public InputStream {
  public:
    explicit ChunkedStream(std::string data) : InputStream("chunked"), m_data(std::move(data)) {}

    evrelay::Result<std::size_t> read(char* out, std::size_t max) override {
        const std::size_t chunk = 1 + (m_calls++ % 7);
        const std::size_t n = std::min({max, chunk, m_data.size() - m_position});
        std::memcpy(out, m_data.data() + m_position, n);
        m_position += n;
        return n;
    }
    std::uint64_t raw_bytes_read() const override { return m_position; }
    std::uint64_t raw_size() const override { return m_data.size(); }

  private:
    std::string m_data;
    std::size_t m_position = 0;
    std::size_t m_calls = 0;
};

std::unique_ptr<InputStream> open_or_fail(const std::string& path) {
    auto input = InputStream::open(path);
    INFO((input ? std::string() : input.error().message));
    REQUIRE(input.has_value());
    return std::move(*input);
}

} // namespace

TEST_CASE("InputStream::open", "[util]") {
    LocalScratch scratch;

    SECTION("a plain file is read as is, with its size") {
        const std::string content = "one\ntwo\n";
        auto input = open_or_fail(scratch.write("plain.ndjson", content));
        CHECK(input->name() == (scratch.path() / "plain.ndjson").string());
        CHECK(input->raw_size() == content.size());
        std::string got(100, '\0');
        auto n = input->read(got.data(), got.size());
        REQUIRE(n.has_value());
        got.resize(*n);
        CHECK(got == content);
        CHECK(*input->read(got.data(), 1) == 0);
        CHECK(input->raw_bytes_read() == content.size());
    }
    SECTION("a gzip file is decompressed, raw counters count compressed bytes") {
        std::string content;
        for (int i = 0; i < 100000; ++i) {
            content += "{\"kind\":\"feature\",\"n\":" + std::to_string(i) + "}\n";
        }
        const std::string compressed = gzip(content);
        auto input = open_or_fail(scratch.write("events.ndjson.gz", compressed));
        CHECK(input->raw_size() == compressed.size());
        std::string got;
        std::vector<char> block(70000);
        for (;;) {
            auto n = input->read(block.data(), block.size());
            REQUIRE(n.has_value());
            if (*n == 0) {
                break;
            }
            got.append(block.data(), *n);
        }
        CHECK(got == content);
        CHECK(input->raw_bytes_read() == compressed.size());
    }
    SECTION("tiny and empty files") {
        for (const std::string& content : {std::string(), std::string("\x1f"), std::string("x")}) {
            auto input = open_or_fail(scratch.write("tiny", content));
            std::string got(10, '\0');
            auto n = input->read(got.data(), got.size());
            REQUIRE(n.has_value());
            CHECK(got.substr(0, *n) == content);
        }
    }
    SECTION("errors name the file") {
        const std::string missing = (scratch.path() / "missing.ndjson").string();
        auto input = InputStream::open(missing);
        REQUIRE_FALSE(input.has_value());
        CHECK(input.error().kind == ErrorKind::io);
        CHECK_THAT(input.error().message, Catch::Contains(missing));

        auto directory = InputStream::open(scratch.path().string());
        REQUIRE_FALSE(directory.has_value());
        CHECK(directory.error().kind == ErrorKind::io);
        CHECK_THAT(directory.error().message, Catch::Contains(scratch.path().string()));
    }
    SECTION("truncated gzip data is an error, not a silent end") {
        const std::string compressed = gzip(std::string(100000, 'q') + "\n");
        auto input =
            open_or_fail(scratch.write("cut.gz", compressed.substr(0, compressed.size() / 2)));
        LineReader reader(*input);
        LineReader::Line line{};
        auto result = reader.next(line);
        REQUIRE_FALSE(result.has_value());
        CHECK(result.error().kind == ErrorKind::invalid_input);
        CHECK_THAT(result.error().message, Catch::Contains("cut.gz"));
    }
    SECTION("garbage after a gzip member is an error") {
        auto input = InputStream::from_string(gzip("a\n") + "not gzip", "mixed");
        LineReader reader(*input);
        LineReader::Line line{};
        bool failed = false;
        for (int i = 0; i < 3 && !failed; ++i) {
            auto result = reader.next(line);
            if (!result) {
                failed = true;
                CHECK(result.error().kind == ErrorKind::invalid_input);
                CHECK_THAT(result.error().message, Catch::Contains("mixed"));
            }
        }
        CHECK(failed);
    }
    SECTION("\"-\" reads standard input, gzip included") {
        const std::string compressed = gzip("from\nstdin\n");
        int pipe_fds[2];
        REQUIRE(::pipe(pipe_fds) == 0);
        REQUIRE(::write(pipe_fds[1], compressed.data(), compressed.size()) ==
                static_cast<ssize_t>(compressed.size()));
        ::close(pipe_fds[1]);
        const int saved_stdin = ::dup(STDIN_FILENO);
        REQUIRE(saved_stdin >= 0);
        REQUIRE(::dup2(pipe_fds[0], STDIN_FILENO) == STDIN_FILENO);
        ::close(pipe_fds[0]);
        auto input = InputStream::open("-");
        // Restore before any REQUIRE can leave the test with a redirected stdin.
        ::dup2(saved_stdin, STDIN_FILENO);
        ::close(saved_stdin);
        REQUIRE(input.has_value());
        CHECK((*input)->name() == "-");
        CHECK((*input)->raw_size() == 0);
        const Collected collected = read_all(**input);
        CHECK(collected.texts == std::vector<std::string>{"from", "stdin"});
        CHECK((*input)->raw_bytes_read() == compressed.size());
    }
}

TEST_CASE("LineReader::next", "[util]") {
    LocalScratch scratch;

    SECTION("lines of a plain file with numbers and offsets") {
        auto input = open_or_fail(scratch.write("a.ndjson", "{\"a\":1}\n\n{\"b\":22}\nlast\n"));
        const Collected c = read_all(*input);
        CHECK(c.texts == std::vector<std::string>{"{\"a\":1}", "", "{\"b\":22}", "last"});
        REQUIRE(c.lines.size() == 4);
        CHECK(c.lines[0].number == 1);
        CHECK(c.lines[0].offset == 0);
        CHECK(c.lines[1].number == 2);
        CHECK(c.lines[1].offset == 8);
        CHECK(c.lines[2].offset == 9);
        CHECK(c.lines[3].number == 4);
        CHECK(c.lines[3].offset == 18);
        for (const auto& line : c.lines) {
            CHECK(line.terminated);
        }
    }
    SECTION("empty input and a lone newline") {
        auto empty = InputStream::from_string("");
        CHECK(read_all(*empty).texts.empty());
        auto newline = InputStream::from_string("\n");
        CHECK(read_all(*newline).texts == std::vector<std::string>{""});
        auto blanks = InputStream::from_string("\n\n\r\n");
        CHECK(read_all(*blanks).texts == std::vector<std::string>{"", "", ""});
    }
    SECTION("CRLF line ends") {
        auto input = InputStream::from_string("one\r\ntwo\r\nthree\r\n");
        const Collected c = read_all(*input);
        CHECK(c.texts == std::vector<std::string>{"one", "two", "three"});
        CHECK(c.lines[1].offset == 5);
        // Only a trailing '\r' is stripped.
        auto inner = InputStream::from_string("a\rb\n");
        CHECK(read_all(*inner).texts == std::vector<std::string>{"a\rb"});
    }
    SECTION("a last line without a newline") {
        auto input = InputStream::from_string("first\nsecond");
        LineReader reader(*input);
        LineReader::Line line{};
        REQUIRE(*reader.next(line));
        CHECK(line.terminated);
        REQUIRE(*reader.next(line));
        CHECK(line.text == "second");
        CHECK(line.number == 2);
        CHECK(line.offset == 6);
        CHECK_FALSE(line.terminated);
        // The padding after an unterminated last line is zeroed, not stale data.
        for (std::size_t i = 0; i < InputStream::k_padding; ++i) {
            CHECK(line.text.data()[line.text.size() + i] == '\0');
        }
        CHECK_FALSE(*reader.next(line));
        CHECK_FALSE(*reader.next(line));
        CHECK(reader.lines_read() == 2);
    }
    SECTION("a gzip file, written with GzipCompressor, including several members") {
        std::string first;
        std::string second;
        for (int i = 0; i < 20000; ++i) {
            first += "{\"i\":" + std::to_string(i) + "}\n";
            second += "{\"j\":" + std::to_string(i) + "}\r\n";
        }
        auto input = open_or_fail(scratch.write("multi.ndjson.gz", gzip(first) + gzip(second)));
        const Collected c = read_all(*input);
        REQUIRE(c.texts.size() == 40000);
        CHECK(c.texts[0] == "{\"i\":0}");
        CHECK(c.texts[19999] == "{\"i\":19999}");
        CHECK(c.texts[20000] == "{\"j\":0}");
        CHECK(c.texts[39999] == "{\"j\":19999}");
        CHECK(c.lines[20000].offset == first.size());
        CHECK(c.lines[39999].number == 40000);
    }
    SECTION("lines longer than the block size and the initial buffer") {
        const std::string long_line(LineReader::k_block_bytes * 3 + 17, 'x');
        const std::string longer_line(LineReader::k_initial_buffer_bytes * 2 + 5, 'y');
        const std::string content = "short\n" + long_line + "\n" + longer_line + "\ntail\n" +
                                    longer_line; // unterminated at the end
        auto input = open_or_fail(scratch.write("long.ndjson", content));
        const Collected c = read_all(*input);
        REQUIRE(c.texts.size() == 5);
        CHECK(c.texts[0] == "short");
        CHECK(c.texts[1] == long_line);
        CHECK(c.texts[2] == longer_line);
        CHECK(c.texts[3] == "tail");
        CHECK(c.texts[4] == longer_line);
        CHECK(c.lines[2].offset == 6 + long_line.size() + 1);
        CHECK_FALSE(c.lines[4].terminated);
    }
    SECTION("many lines across block boundaries") {
        // More than the initial buffer, so the tail is moved to the front several times.
        auto expected_line = [](std::uint64_t i) {
            return std::string(static_cast<std::size_t>(i % 37), static_cast<char>('a' + i % 26)) +
                   std::to_string(i);
        };
        std::string content;
        std::uint64_t count = 0;
        while (content.size() < 2 * LineReader::k_initial_buffer_bytes) {
            content += expected_line(count++) + "\n";
        }
        auto input = open_or_fail(scratch.write("many.ndjson", content));
        LineReader reader(*input);
        LineReader::Line line{};
        std::uint64_t seen = 0;
        std::uint64_t offset = 0;
        std::uint64_t mismatches = 0;
        while (*reader.next(line)) {
            const std::string expected = expected_line(seen);
            mismatches += (line.text != expected || line.offset != offset ||
                           line.number != seen + 1 || !line.terminated)
                              ? 1
                              : 0;
            offset += expected.size() + 1;
            ++seen;
        }
        CHECK(seen == count);
        CHECK(mismatches == 0);
    }
    SECTION("short reads from the input split lines anywhere") {
        std::string content;
        std::vector<std::string> expected;
        for (int i = 0; i < 2000; ++i) {
            expected.push_back(std::string(static_cast<std::size_t>(i % 50), 'c') + "\r");
            expected.back().pop_back(); // the '\r' goes into the content only
            content += expected.back() + (i % 3 == 0 ? "\r\n" : "\n");
        }
        ChunkedStream input(content);
        const Collected c = read_all(input);
        CHECK(c.texts == expected);
    }
    SECTION("a line over max_line_bytes is too_large, and reading resumes after it") {
        const std::string huge(3u << 20, 'h');
        for (const std::string& content :
             {"ok\n" + std::string(2000, 'l') + "\nnext\n", "ok\n" + huge + "\nnext\n"}) {
            auto input = InputStream::from_string(content, "limits.ndjson");
            LineReader reader(*input, 1000);
            LineReader::Line line{};
            REQUIRE(*reader.next(line));
            CHECK(line.text == "ok");
            auto result = reader.next(line);
            REQUIRE_FALSE(result.has_value());
            CHECK(result.error().kind == ErrorKind::too_large);
            CHECK_THAT(result.error().message,
                       Catch::Contains("line 2") && Catch::Contains("limits.ndjson"));
            REQUIRE(*reader.next(line));
            CHECK(line.text == "next");
            CHECK(line.number == 3);
            CHECK(line.offset == content.size() - 5);
            CHECK_FALSE(*reader.next(line));
        }
    }
    SECTION("a line of exactly max_line_bytes is accepted, CRLF included") {
        auto input =
            InputStream::from_string(std::string(1000, 'e') + "\r\n" + std::string(1000, 'f'));
        const Collected c = read_all(*input, 1000);
        REQUIRE(c.texts.size() == 2);
        CHECK(c.texts[0].size() == 1000);
        CHECK(c.texts[1].size() == 1000);
    }
}

TEST_CASE("LineReader::peek", "[util]") {
    auto input = InputStream::from_string(gzip("[{\"kind\":\"index\"}]\nsecond\n"));
    LineReader reader(*input);
    auto head = reader.peek(4);
    REQUIRE(head.has_value());
    CHECK(*head == "[{\"k");
    CHECK(*reader.peek(1000) == "[{\"kind\":\"index\"}]\nsecond\n");
    LineReader::Line line{};
    REQUIRE(*reader.next(line));
    CHECK(line.text == "[{\"kind\":\"index\"}]");
    CHECK(line.number == 1);
    CHECK(*reader.peek(3) == "sec");
}
