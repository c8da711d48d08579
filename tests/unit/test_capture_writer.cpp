#include "tests/support/scratch_dir.hpp"

#include "core/inbound/capture_writer.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <thread>

using namespace evrelay;

namespace {

std::string read_all(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

CaptureRecord record(std::string_view json, DataKind kind = DataKind::analytics) {
    CaptureRecord r;
    r.received = std::chrono::system_clock::time_point(std::chrono::milliseconds(1795736414669));
    r.env_name = "production";
    r.sdk = SdkKind::server;
    r.kind = kind;
    r.metadata = PayloadMetadata{4, "application-id/web"};
    r.payload_id = "1f9d6b12-4e86-4763-85e5-2ae1196a214b";
    r.events_json = json;
    return r;
}

} // namespace

TEST_CASE("CaptureWriter::write", "[inbound]") {
    test::ScratchDir dir;
    const auto path = dir.path() / "capture.ndjson";

    SECTION("appends whole lines to a 0600 file") {
        {
            auto writer = CaptureWriter::open(path.string());
            REQUIRE(writer);
            REQUIRE((*writer)->write(record(R"([{"kind":"custom"}])")));
            REQUIRE((*writer)->write(record(R"({"kind":"diagnostic"})", DataKind::diagnostic)));
            CHECK((*writer)->lines_written() == 2);
        }
        struct stat info {};
        REQUIRE(::stat(path.c_str(), &info) == 0);
        CHECK((info.st_mode & 0777) == 0600);
        {
            // A second writer appends rather than truncating.
            auto writer = CaptureWriter::open(path.string());
            REQUIRE(writer);
            REQUIRE((*writer)->write(record("[]")));
        }
        std::string expected;
        append_capture_line(expected, record(R"([{"kind":"custom"}])"));
        append_capture_line(expected, record(R"({"kind":"diagnostic"})", DataKind::diagnostic));
        append_capture_line(expected, record("[]"));
        CHECK(read_all(path) == expected);
        CHECK(expected.find("\"env\":\"production\"") != std::string::npos);
    }

    SECTION("concurrent writers never interleave lines") {
        auto writer = CaptureWriter::open(path.string());
        REQUIRE(writer);
        const std::string big = "[{\"p\":\"" + std::string(100000, 'x') + "\"}]";
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&] {
                for (int i = 0; i < 20; ++i) {
                    (void)(*writer)->write(record(big));
                }
            });
        }
        for (auto& thread : threads) {
            thread.join();
        }
        std::string one;
        append_capture_line(one, record(big));
        const std::string text = read_all(path);
        REQUIRE(text.size() == one.size() * 80);
        for (std::size_t i = 0; i < 80; ++i) {
            CHECK(text.compare(i * one.size(), one.size(), one) == 0);
        }
    }

    SECTION("an unwritable path is an error naming it") {
        auto writer = CaptureWriter::open((dir.path() / "missing" / "capture.ndjson").string());
        REQUIRE_FALSE(writer);
        CHECK(writer.error().kind == ErrorKind::io);
        CHECK(writer.error().message.find("missing") != std::string::npos);
    }
}
