#include "tests/support/scratch_dir.hpp"

#include "core/util/file_lock.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <thread>

using namespace evrelay;
using util::FileLock;

namespace {

using namespace std::chrono_literals;

// True when a new open file description of `path` can take the lock right now (then released).
bool lockable(const std::filesystem::path& path) {
    util::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    REQUIRE(fd);
    return ::flock(fd.get(), LOCK_EX | LOCK_NB) == 0;
}

} // namespace

TEST_CASE("util::FileLock::acquire", "[file_lock]") {
    test::ScratchDir dir;
    const std::string path = (dir / "lock").string();

    SECTION("creates the file 0600 and holds the lock until destroyed") {
        {
            auto held = FileLock::acquire(path, 0ms);
            REQUIRE(held);
            REQUIRE(held->has_value());
            CHECK((*held)->fd() >= 0);
            struct stat info {};
            REQUIRE(::stat(path.c_str(), &info) == 0);
            CHECK((info.st_mode & 0777) == 0600);
            CHECK_FALSE(lockable(path));
        }
        CHECK(lockable(path));
    }

    SECTION("a second descriptor in the same process conflicts; it succeeds after release") {
        auto first = FileLock::acquire(path, 0ms);
        REQUIRE(first);
        REQUIRE(first->has_value());

        auto second = FileLock::acquire(path, 0ms);
        REQUIRE(second); // not an error: just held by someone else
        CHECK_FALSE(second->has_value());

        first->reset();
        auto third = FileLock::acquire(path, 0ms);
        REQUIRE(third);
        CHECK(third->has_value());
    }

    SECTION("moving the lock keeps it held") {
        auto first = FileLock::acquire(path, 0ms);
        REQUIRE(first);
        REQUIRE(first->has_value());
        std::optional<FileLock> moved(std::move(**first));
        first->reset();
        CHECK_FALSE(lockable(path));
        moved.reset();
        CHECK(lockable(path));
    }

    SECTION("a bounded wait gives up after about that long") {
        auto holder = FileLock::acquire(path, 0ms);
        REQUIRE(holder);
        REQUIRE(holder->has_value());

        const auto start = std::chrono::steady_clock::now();
        auto waited = FileLock::acquire(path, 300ms);
        const auto elapsed = std::chrono::steady_clock::now() - start;
        REQUIRE(waited);
        CHECK_FALSE(waited->has_value());
        CHECK(elapsed >= 250ms);
        CHECK(elapsed < 5s);
    }

    SECTION("a wait succeeds once the holder releases during it") {
        auto holder = FileLock::acquire(path, 0ms);
        REQUIRE(holder);
        REQUIRE(holder->has_value());
        std::optional<FileLock> held = std::move(*holder);

        std::thread releaser([&held] {
            std::this_thread::sleep_for(150ms);
            held.reset();
        });
        auto waited = FileLock::acquire(path, 10s);
        releaser.join();
        REQUIRE(waited);
        CHECK(waited->has_value());
        CHECK_FALSE(lockable(path));
    }

    SECTION("an existing file keeps its content") {
        dir.write("lock", "content\n");
        {
            auto held = FileLock::acquire(path, 0ms);
            REQUIRE(held);
            REQUIRE(held->has_value());
        }
        CHECK(test::read_file(path) == "content\n");
    }

    SECTION("an unopenable path is an error") {
        auto missing_dir = FileLock::acquire((dir / "no/such/dir/lock").string(), 0ms);
        REQUIRE_FALSE(missing_dir);
        CHECK(missing_dir.error().kind == ErrorKind::io);
        CHECK_THAT(missing_dir.error().message, Catch::Contains("no/such/dir/lock"));

        // Without create, a missing file is an error rather than a new file.
        auto not_created = FileLock::acquire((dir / "absent").string(), 0ms, false);
        REQUIRE_FALSE(not_created);
        CHECK(not_created.error().kind == ErrorKind::io);
        CHECK_FALSE(std::filesystem::exists(dir / "absent"));
    }
}

TEST_CASE("util::FileLock::try_adopt", "[file_lock]") {
    test::ScratchDir dir;
    const auto path = dir.write("segment", "data\n");

    SECTION("locks a free descriptor and owns it") {
        util::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        REQUIRE(fd);
        const int raw = fd.get();
        {
            auto adopted = FileLock::try_adopt(std::move(fd));
            REQUIRE(adopted.has_value());
            CHECK(adopted->fd() == raw);
            CHECK_FALSE(lockable(path));
        }
        CHECK(lockable(path));
    }

    SECTION("nullopt while another descriptor holds the lock") {
        auto holder = FileLock::acquire(path.string(), 0ms);
        REQUIRE(holder);
        REQUIRE(holder->has_value());
        util::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        REQUIRE(fd);
        CHECK_FALSE(FileLock::try_adopt(std::move(fd)).has_value());
        // Still held by the first holder.
        CHECK_FALSE(lockable(path));
    }
}
