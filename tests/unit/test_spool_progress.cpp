#include "tests/support/scratch_dir.hpp"

#include "core/spool/spool_progress.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <sys/stat.h>
#include <thread>

using namespace evrelay;
namespace fs = std::filesystem;

namespace {

std::unique_ptr<SpoolProgress> open_progress(const fs::path& segment) {
    auto progress = SpoolProgress::open(segment);
    REQUIRE(progress);
    return std::move(*progress);
}

} // namespace

TEST_CASE("SpoolProgress", "[spool]") {
    test::ScratchDir scratch;
    const fs::path segment = scratch.write("20260101T000000.000000Z-1-000000.seg", "");
    const fs::path done_path = scratch / "20260101T000000.000000Z-1-000000.seg.done";

    SECTION("a new progress file is empty, 0600") {
        auto progress = open_progress(segment);
        CHECK(progress->done_count() == 0);
        CHECK_FALSE(progress->done(1));
        REQUIRE(fs::exists(done_path));
        struct stat info {};
        REQUIRE(::stat(done_path.c_str(), &info) == 0);
        CHECK((info.st_mode & 0777) == 0600);
    }

    SECTION("records persist across reopen, one decimal number per line") {
        {
            auto progress = open_progress(segment);
            REQUIRE(progress->mark_done(3));
            REQUIRE(progress->mark_done(1));
            REQUIRE(progress->mark_done(4294967296)); // beyond 32 bits
            CHECK(progress->done(3));
            CHECK(progress->done(1));
            CHECK_FALSE(progress->done(2));
            CHECK(progress->done_count() == 3);
        }
        CHECK(test::read_file(done_path) == "3\n1\n4294967296\n");
        auto reopened = open_progress(segment);
        CHECK(reopened->done_count() == 3);
        CHECK(reopened->done(1));
        CHECK_FALSE(reopened->done(2));
        CHECK(reopened->done(3));
        CHECK(reopened->done(4294967296));
        // New records are appended after the old ones.
        REQUIRE(reopened->mark_done(2));
        CHECK(test::read_file(done_path) == "3\n1\n4294967296\n2\n");
    }

    SECTION("duplicates are ignored and not written again") {
        auto progress = open_progress(segment);
        REQUIRE(progress->mark_done(7));
        REQUIRE(progress->mark_done(7));
        CHECK(progress->done_count() == 1);
        CHECK(test::read_file(done_path) == "7\n");
        progress.reset();

        // Duplicates already in the file (two passes racing a crash) count once.
        scratch.write(done_path.filename().string(), "5\n5\n6\n");
        auto reopened = open_progress(segment);
        CHECK(reopened->done_count() == 2);
        REQUIRE(reopened->mark_done(5));
        CHECK(test::read_file(done_path) == "5\n5\n6\n");
    }

    SECTION("a torn last record (no newline) is ignored") {
        scratch.write(done_path.filename().string(), "1\n2\n3");
        auto progress = open_progress(segment);
        CHECK(progress->done(1));
        CHECK(progress->done(2));
        CHECK_FALSE(progress->done(3));
        CHECK(progress->done_count() == 2);
    }

    SECTION("records that are not numbers are ignored") {
        scratch.write(done_path.filename().string(), "1\nabc\n2x\n\n-4\n9\n");
        auto progress = open_progress(segment);
        CHECK(progress->done_count() == 2);
        CHECK(progress->done(1));
        CHECK(progress->done(9));
    }

    SECTION("mark_done_later counts at once and is written by write_pending, in one go") {
        auto progress = open_progress(segment);
        progress->mark_done_later(2);
        progress->mark_done_later(5);
        progress->mark_done_later(2); // once
        CHECK(progress->done(2));
        CHECK(progress->done(5));
        CHECK(progress->done_count() == 2);
        CHECK(progress->has_pending());
        CHECK(test::read_file(done_path).empty());
        REQUIRE(progress->write_pending());
        CHECK_FALSE(progress->has_pending());
        CHECK(test::read_file(done_path) == "2\n5\n");
        REQUIRE(progress->write_pending()); // nothing more to write
        REQUIRE(progress->mark_done(7));
        progress->mark_done_later(5); // already recorded: nothing pending
        CHECK_FALSE(progress->has_pending());
        CHECK(test::read_file(done_path) == "2\n5\n7\n");
        progress->mark_done_later(9);
        progress->remove(); // what was pending goes with the file
        CHECK_FALSE(fs::exists(done_path));
        CHECK_FALSE(progress->has_pending());
    }

    SECTION("remove() deletes the file") {
        auto progress = open_progress(segment);
        REQUIRE(progress->mark_done(1));
        REQUIRE(fs::exists(done_path));
        progress->remove();
        CHECK_FALSE(fs::exists(done_path));
        CHECK(fs::exists(segment));
    }

    SECTION("concurrent records are all kept, each once") {
        {
            auto progress = open_progress(segment);
            std::vector<std::thread> threads;
            for (int t = 0; t < 4; ++t) {
                // Every thread records every line: each is written once.
                threads.emplace_back([&progress] {
                    for (std::uint64_t line = 1; line <= 500; ++line) {
                        (void)progress->mark_done(line);
                    }
                });
            }
            for (auto& thread : threads) {
                thread.join();
            }
            CHECK(progress->done_count() == 500);
        }
        const std::string text = test::read_file(done_path);
        CHECK(std::count(text.begin(), text.end(), '\n') == 500);
        auto reopened = open_progress(segment);
        CHECK(reopened->done_count() == 500);
    }

    SECTION("an unwritable location is an error") {
        auto progress = SpoolProgress::open(scratch / "no/such/dir/x.seg");
        REQUIRE_FALSE(progress);
        CHECK(progress.error().kind == ErrorKind::io);
    }
}

// A record written after a torn one must not merge with it: "1\n2\n1" (a crash while writing
// "12\n") followed by a record for line 3 must not read back as line 13 — line 13 would then be
// skipped as delivered and deleted with its segment without ever being sent.
TEST_CASE("SpoolProgress: a record after a torn one stays separate", "[spool]") {
    test::ScratchDir scratch;
    const fs::path segment = scratch.write("20260101T000000.000000Z-1-000000.seg", "");
    scratch.write("20260101T000000.000000Z-1-000000.seg.done", "1\n2\n1");
    {
        auto progress = open_progress(segment);
        CHECK_FALSE(progress->done(12));
        REQUIRE(progress->mark_done(3));
    }
    auto reopened = open_progress(segment);
    CHECK(reopened->done(1));
    CHECK(reopened->done(2));
    CHECK(reopened->done(3));
    CHECK_FALSE(reopened->done(13));
}

TEST_CASE("SpoolProgress: batch records", "[spool]") {
    test::ScratchDir scratch;
    const fs::path segment = scratch.write("20260101T000000.000000Z-1-000000.seg", "");
    const fs::path done_path = scratch / "20260101T000000.000000Z-1-000000.seg.done";

    SECTION("written at once, read back for each of their lines, beside done records") {
        {
            auto progress = open_progress(segment);
            REQUIRE(progress->mark_done(1));
            REQUIRE(progress->record_batch(SpoolBatchRecord{"id-a", {2, 5, 4294967296}}));
            progress->mark_done_later(7);
            // Written before any held-back done record: the batch is on file before it is sent.
            CHECK(test::read_file(done_path) == "1\nb id-a 2 5 4294967296\n");
            const auto batch = progress->batch_of(5);
            REQUIRE(batch);
            CHECK(batch->payload_id == "id-a");
            CHECK(batch->lines == std::vector<std::uint64_t>{2, 5, 4294967296});
            CHECK_FALSE(progress->batch_of(3));
            REQUIRE(progress->write_pending());
        }
        CHECK(test::read_file(done_path) == "1\nb id-a 2 5 4294967296\n7\n");
        auto reopened = open_progress(segment);
        CHECK(reopened->done_count() == 2); // a batch record marks nothing done
        CHECK_FALSE(reopened->done(2));
        for (const std::uint64_t line : {2ull, 5ull, 4294967296ull}) {
            const auto batch = reopened->batch_of(line);
            REQUIRE(batch);
            CHECK(batch->payload_id == "id-a");
            CHECK(batch->lines.size() == 3);
        }
        CHECK_FALSE(reopened->batch_of(1));
        CHECK_FALSE(reopened->batch_of(7));
    }

    SECTION("a torn batch record is cut off: its batch was never sent") {
        scratch.write("20260101T000000.000000Z-1-000000.seg.done", "1\nb id-a 2 3\nb id-b 4 5");
        {
            auto progress = open_progress(segment);
            REQUIRE(progress->batch_of(3));
            CHECK_FALSE(progress->batch_of(4));
            CHECK_FALSE(progress->batch_of(5));
            REQUIRE(progress->mark_done(6));
        }
        CHECK(test::read_file(done_path) == "1\nb id-a 2 3\n6\n");
    }

    SECTION("records that do not parse are ignored") {
        scratch.write("20260101T000000.000000Z-1-000000.seg.done",
                      "b\nb id-a\nb  2 3\nb id-b 3 2\nb id-c 0 1\nb id-d 2 x\nb id-e 4  5\nx 9\n"
                      "b id-f 8 9\n");
        auto progress = open_progress(segment);
        for (std::uint64_t line = 0; line < 8; ++line) {
            INFO(line);
            CHECK_FALSE(progress->batch_of(line));
        }
        REQUIRE(progress->batch_of(9));
        CHECK(progress->batch_of(9)->payload_id == "id-f");
        CHECK(progress->done_count() == 0);
    }
}
