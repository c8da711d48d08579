#include "tests/support/scratch_dir.hpp"

#include "core/spool/spool_directory.hpp"
#include "core/util/file_lock.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <regex>
#include <set>
#include <sys/stat.h>

using namespace evrelay;
namespace fs = std::filesystem;

namespace {

using namespace std::chrono_literals;

mode_t mode_of(const fs::path& path) {
    struct stat info {};
    REQUIRE(::stat(path.c_str(), &info) == 0);
    return info.st_mode & 07777;
}

std::vector<std::string> names(const std::vector<fs::path>& paths) {
    std::vector<std::string> result;
    for (const auto& path : paths) {
        result.push_back(path.filename().string());
    }
    return result;
}

} // namespace

TEST_CASE("SpoolDirectory::open", "[spool]") {
    test::ScratchDir scratch;
    const fs::path root = scratch / "spool";

    SECTION("creates DIR, incoming/ and bad/ with mode 0700") {
        auto spool = SpoolDirectory::open(root);
        REQUIRE(spool);
        CHECK(spool->root() == root);
        CHECK(spool->incoming_dir() == root / "incoming");
        CHECK(spool->bad_dir() == root / "bad");
        CHECK(spool->delivery_lock_path() == root / ".delivery.lock");
        for (const fs::path& dir : {root, root / "incoming", root / "bad"}) {
            INFO(dir);
            REQUIRE(fs::is_directory(dir));
            CHECK(mode_of(dir) == 0700);
        }
    }

    SECTION("an existing spool is opened as it is") {
        REQUIRE(SpoolDirectory::open(root));
        scratch.write("spool/20260101T000000.000000Z-1-000000.seg", "x\n");
        auto again = SpoolDirectory::open(root);
        REQUIRE(again);
        CHECK(again->closed_segments().size() == 1);
    }

    SECTION("only the missing subdirectories are created") {
        fs::create_directory(root);
        auto spool = SpoolDirectory::open(root);
        REQUIRE(spool);
        CHECK(fs::is_directory(root / "incoming"));
        CHECK(fs::is_directory(root / "bad"));
    }

    SECTION("a regular file in the way is an error naming it") {
        scratch.write("spool", "not a directory");
        auto spool = SpoolDirectory::open(root);
        REQUIRE_FALSE(spool);
        CHECK(spool.error().kind == ErrorKind::io);
        CHECK_THAT(spool.error().message, Catch::Contains(root.string()));
    }

    SECTION("a missing parent is an error") {
        auto spool = SpoolDirectory::open(scratch / "no/such/parent/spool");
        REQUIRE_FALSE(spool);
        CHECK(spool.error().kind == ErrorKind::io);
    }
}

TEST_CASE("SpoolDirectory::closed_segments", "[spool]") {
    test::ScratchDir scratch;
    auto spool = SpoolDirectory::open(scratch / "spool");
    REQUIRE(spool);
    const fs::path root = spool->root();
    auto put = [&](const std::string& name) { scratch.write("spool/" + name, "{}\n"); };

    SECTION("an empty spool has none") {
        CHECK(spool->closed_segments().empty());
        CHECK(spool->open_segment_count() == 0);
    }

    SECTION(".seg files and unlocked .open files, oldest (name order) first") {
        put("20260101T000003.000000Z-9-000003.seg");
        put("20260101T000001.000000Z-9-000001.open"); // its writer died: no lock
        put("20260101T000002.000000Z-9-000002.seg");
        put("20260101T000000.500000Z-7-000000.seg");
        CHECK(names(spool->closed_segments()) ==
              std::vector<std::string>{
                  "20260101T000000.500000Z-7-000000.seg", "20260101T000001.000000Z-9-000001.open",
                  "20260101T000002.000000Z-9-000002.seg", "20260101T000003.000000Z-9-000003.seg"});
        CHECK(spool->open_segment_count() == 0);
        for (const auto& path : spool->closed_segments()) {
            CHECK(path.parent_path() == root);
        }
    }

    SECTION("skips an .open file another descriptor holds a lock on") {
        put("20260101T000001.000000Z-9-000001.open");
        put("20260101T000002.000000Z-9-000002.open");
        auto writer_lock =
            util::FileLock::acquire((root / "20260101T000002.000000Z-9-000002.open").string(), 0ms);
        REQUIRE(writer_lock);
        REQUIRE(writer_lock->has_value());

        CHECK(names(spool->closed_segments()) ==
              std::vector<std::string>{"20260101T000001.000000Z-9-000001.open"});
        CHECK(spool->open_segment_count() == 1);
        // Listing twice does not leave a lock behind on the unlocked one, nor steal the held one.
        CHECK(spool->closed_segments().size() == 1);
        CHECK(spool->open_segment_count() == 1);

        writer_lock->reset(); // the writer died
        CHECK(spool->closed_segments().size() == 2);
        CHECK(spool->open_segment_count() == 0);
    }

    SECTION("skips hidden, temporary, progress and other files and directories") {
        put("20260101T000001.000000Z-9-000001.seg");
        put("20260101T000001.000000Z-9-000001.seg.done");
        put(".20260101T000002.000000Z-9-000002.tmp");
        put(".20260101T000003.000000Z-9-000003.seg");
        put(".20260101T000004.000000Z-9-000004.open");
        put(".delivery.lock");
        put("notes.txt");
        put("20260101T000005.000000Z-9-000005.seg.tmp");
        fs::create_directory(root / "20260101T000006.000000Z-9-000006.seg");
        CHECK(names(spool->closed_segments()) ==
              std::vector<std::string>{"20260101T000001.000000Z-9-000001.seg"});
        CHECK(spool->open_segment_count() == 0);
    }

    SECTION("an unreadable spool root lists nothing rather than throwing") {
        fs::remove_all(root);
        CHECK(spool->closed_segments().empty());
        CHECK(spool->open_segment_count() == 0);
        CHECK(spool->incoming_files().empty());
    }
}

TEST_CASE("SpoolDirectory::incoming_files", "[spool]") {
    test::ScratchDir scratch;
    auto spool = SpoolDirectory::open(scratch / "spool");
    REQUIRE(spool);
    const auto base = fs::file_time_type::clock::now() - std::chrono::hours(1);
    auto put = [&](const std::string& name, std::chrono::seconds age_offset) {
        const fs::path path = scratch.write("spool/incoming/" + name, "{}\n");
        fs::last_write_time(path, base + age_offset);
        return path;
    };

    SECTION("oldest modification time first, whatever the names") {
        put("a-newest.ndjson", 30s);
        put("b-oldest.ndjson", 10s);
        put("c-middle.json", 20s);
        CHECK(names(spool->incoming_files()) ==
              std::vector<std::string>{"b-oldest.ndjson", "c-middle.json", "a-newest.ndjson"});
        for (const auto& path : spool->incoming_files()) {
            CHECK(path.parent_path() == spool->incoming_dir());
        }
    }

    SECTION("skips dotfiles (still being written) and directories") {
        put(".partial.ndjson", 1s);
        put("ready.ndjson", 2s);
        fs::create_directory(spool->incoming_dir() / "subdir");
        CHECK(names(spool->incoming_files()) == std::vector<std::string>{"ready.ndjson"});
    }

    SECTION("none when incoming/ is empty") {
        CHECK(spool->incoming_files().empty());
    }
}

TEST_CASE("SpoolDirectory names", "[spool]") {
    SECTION("progress_path appends .done") {
        CHECK(SpoolDirectory::progress_path("/s/20260101T000001.000000Z-9-000001.seg") ==
              fs::path("/s/20260101T000001.000000Z-9-000001.seg.done"));
        CHECK(SpoolDirectory::progress_path("rel/x.open") == fs::path("rel/x.open.done"));
    }

    SECTION("new_segment_stem is a UTC time, the pid and a sequence; never repeated") {
        const std::regex shape(R"(\d{8}T\d{6}\.\d{6}Z-(\d+)-(\d{6,}))");
        std::set<std::string> seen;
        std::string previous;
        for (int i = 0; i < 200; ++i) {
            const std::string stem = SpoolDirectory::new_segment_stem();
            std::smatch match;
            INFO(stem);
            REQUIRE(std::regex_match(stem, match, shape));
            CHECK(match[1].str() == std::to_string(::getpid()));
            CHECK(seen.insert(stem).second);
            // Names sort in creation order: newer stems never sort before older ones.
            CHECK(previous <= stem);
            previous = stem;
        }
    }
}
