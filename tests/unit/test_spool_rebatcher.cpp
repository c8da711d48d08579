#include "tests/support/file_size_limit.hpp"
#include "tests/support/scratch_dir.hpp"

#include "core/spool/spool_directory.hpp"
#include "core/spool/spool_rebatcher.hpp"
#include "core/util/uuid.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <string_view>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace evrelay;
namespace fs = std::filesystem;

namespace {

const PayloadMetadata k_metadata{4, "application-id/test"};
const auto k_received = std::chrono::system_clock::time_point(std::chrono::hours(24 * 365 * 56));

// Line `line` of a segment, as the delivery hands it over (views of what the caller holds).
SpoolLineView view_of(std::uint64_t line, std::string_view id, std::string_view json,
                      std::size_t events, std::string_view env = "production") {
    return SpoolLineView{line, env, SdkKind::server, &k_metadata, k_received, id, json, events};
}

struct Sent {
    Payload payload;
    std::vector<std::uint64_t> lines;
    std::string done_file; // the progress file when it was handed on
};

struct Harness {
    test::ScratchDir scratch;
    fs::path segment = scratch.write("20260101T000000.000000Z-1-000000.seg", "");
    std::unique_ptr<SpoolProgress> progress = open();
    std::vector<Sent> sent;
    std::vector<std::string> unrecorded;

    std::unique_ptr<SpoolProgress> open() {
        auto opened = SpoolProgress::open(segment);
        REQUIRE(opened);
        return std::move(*opened);
    }
    std::string done_file() const {
        return test::read_file(SpoolDirectory::progress_path(segment));
    }
    SpoolRebatcher rebatcher(std::size_t max_events = 1000, std::size_t max_bytes = 1u << 20,
                             bool dry_run = false) {
        SpoolRebatcherOptions options;
        options.max_events_per_payload = max_events;
        options.max_bytes_per_payload = max_bytes;
        return SpoolRebatcher(
            options, dry_run ? nullptr : progress.get(),
            [this](Payload payload, std::vector<std::uint64_t> lines) {
                sent.push_back(Sent{std::move(payload), std::move(lines), done_file()});
            },
            [this](const Error& error) { unrecorded.push_back(error.message); });
    }
};

} // namespace

TEST_CASE("SpoolRebatcher: a batch of several lines is recorded before it is handed on",
          "[spool]") {
    Harness h;
    SpoolRebatcher rebatcher = h.rebatcher();
    const std::string a = R"([{"k":"a"}])", b = R"([{"k":"b"},{"k":"b2"}])";
    CHECK(rebatcher.add(view_of(1, "id-a", a, 1), nullptr) == SpoolRebatcher::Added::batched);
    CHECK(rebatcher.add(view_of(2, "id-b", b, 2), nullptr) == SpoolRebatcher::Added::batched);
    CHECK(h.sent.empty()); // not full: open until the segment ends
    rebatcher.send_all();

    REQUIRE(h.sent.size() == 1);
    const Payload& payload = h.sent[0].payload;
    CHECK(util::is_uuid(payload.id));
    CHECK(payload.body == R"([{"k":"a"},{"k":"b"},{"k":"b2"}])");
    CHECK(payload.event_count == 3);
    CHECK(payload.env_name == "production");
    CHECK(payload.metadata == k_metadata);
    CHECK(h.sent[0].lines == std::vector<std::uint64_t>{1, 2});
    CHECK(h.sent[0].done_file == "b " + payload.id + " 1 2\n");
    // A later pass finds the record and forms the batch again, under its ID.
    auto reopened = h.open();
    auto recorded = reopened->batch_of(2);
    REQUIRE(recorded);
    CHECK(recorded->payload_id == payload.id);
}

TEST_CASE("SpoolRebatcher: a line alone keeps its own ID, unrecorded", "[spool]") {
    Harness h;
    SpoolRebatcher rebatcher = h.rebatcher();
    const std::string a = R"([{"k":"a"}])";
    (void)rebatcher.add(view_of(1, "id-a", a, 1), nullptr);
    rebatcher.send_all();
    REQUIRE(h.sent.size() == 1);
    CHECK(h.sent[0].payload.id == "id-a");
    CHECK(h.sent[0].done_file.empty());
}

TEST_CASE("SpoolRebatcher: full batches go out at once, per destination", "[spool]") {
    Harness h;
    SpoolRebatcher rebatcher = h.rebatcher(2);
    const std::string e = R"([{"k":"e"}])";
    (void)rebatcher.add(view_of(1, "1", e, 1), nullptr);
    (void)rebatcher.add(view_of(2, "2", e, 1, "staging"), nullptr);
    (void)rebatcher.add(view_of(3, "3", e, 1), nullptr);
    REQUIRE(h.sent.size() == 1); // production reached 2 events
    CHECK(h.sent[0].lines == std::vector<std::uint64_t>{1, 3});
    CHECK(h.sent[0].payload.env_name == "production");
    rebatcher.send_all();
    REQUIRE(h.sent.size() == 2);
    CHECK(h.sent[1].lines == std::vector<std::uint64_t>{2});
    CHECK(h.sent[1].payload.env_name == "staging");
}

TEST_CASE("SpoolRebatcher: a repeated payload ID is a duplicate", "[spool]") {
    Harness h;
    SpoolRebatcher rebatcher = h.rebatcher();
    const std::string e = R"([{"k":"e"}])";
    CHECK(rebatcher.add(view_of(1, "same", e, 1), nullptr) == SpoolRebatcher::Added::batched);
    CHECK(rebatcher.add(view_of(2, "same", e, 1), nullptr) == SpoolRebatcher::Added::duplicate);
    rebatcher.send_all();
    REQUIRE(h.sent.size() == 1);
    CHECK(h.sent[0].lines == std::vector<std::uint64_t>{1});
}

TEST_CASE("SpoolRebatcher: a batch that cannot be recorded is not sent", "[spool]") {
    Harness h;
    // In a child that cannot write to any file (RLIMIT_FSIZE 0: EFBIG), the record fails.
    const int status = test::run_with_file_size_limit(0, [&] {
        SpoolRebatcher rebatcher = h.rebatcher();
        const std::string e = R"([{"k":"e"}])";
        (void)rebatcher.add(view_of(1, "1", e, 1), nullptr);
        (void)rebatcher.add(view_of(2, "2", e, 1), nullptr);
        rebatcher.send_all();
        return (h.sent.empty() ? 0 : 1) | (h.unrecorded.size() == 1 ? 0 : 2);
    });
    CHECK(status == 0);
    CHECK(h.done_file().empty());
}

TEST_CASE("SpoolRebatcher: without progress (a dry run) nothing is recorded", "[spool]") {
    Harness h;
    SpoolRebatcher rebatcher = h.rebatcher(1000, 1u << 20, true);
    const std::string e = R"([{"k":"e"}])";
    (void)rebatcher.add(view_of(1, "1", e, 1), nullptr);
    (void)rebatcher.add(view_of(2, "2", e, 1), nullptr);
    CHECK_FALSE(rebatcher.recorded_batch(1));
    rebatcher.send_all();
    REQUIRE(h.sent.size() == 1);
    CHECK(util::is_uuid(h.sent[0].payload.id));
    CHECK(h.done_file().empty());
}
