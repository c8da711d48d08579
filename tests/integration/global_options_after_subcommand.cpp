// --log-level and --log-format are taken before or after the subcommand (`evrelay serve
// --log-level debug`, as users type it), with the same checks either way.
#include "harness.hpp"

#include <catch2/catch.hpp>

using namespace evrelay::test;

namespace {

std::filesystem::path write_input_with_a_bad_line(ScratchDir& dir) {
    const auto events = make_events(1);
    return dir.write("events.ndjson", events[0] + "\nnot json\n");
}

} // namespace

TEST_CASE("global options after the subcommand", "[cli]") {
    ScratchDir dir;
    const auto input = write_input_with_a_bad_line(dir);
    const std::vector<std::string> replay = {"replay",   "--dry-run", "--sdk-key",   "sdk-cli-0001",
                                             "--format", "ndjson",    input.string()};
    auto with = [&](std::vector<std::string> before, std::vector<std::string> after) {
        std::vector<std::string> args = std::move(before);
        args.insert(args.end(), replay.begin(), replay.end());
        args.insert(args.end(), after.begin(), after.end());
        return run_evrelay(args);
    };

    SECTION("--log-format json after the subcommand writes JSON log lines") {
        const auto result = with({}, {"--log-format", "json"});
        INFO(result.err);
        CHECK(result.status == 65); // the bad line, reported and skipped
        CHECK_THAT(result.err, Catch::Contains(R"({"time":")"));
        CHECK_THAT(result.err, Catch::Contains(R"("level":"warning")"));
        CHECK_THAT(result.err, Catch::Contains(input.string() + ":2:"));
        CHECK_THAT(result.err, !Catch::Contains("evrelay: warning:"));
    }
    SECTION("the same before the subcommand") {
        const auto result = with({"--log-format", "json"}, {});
        INFO(result.err);
        CHECK(result.status == 65);
        CHECK_THAT(result.err, Catch::Contains(R"("level":"warning")"));
    }
    SECTION("--log-level error after the subcommand hides the warning") {
        const auto result = with({}, {"--log-level", "error"});
        INFO(result.err);
        CHECK(result.status == 65);
        CHECK_THAT(result.err, !Catch::Contains(input.string() + ":2:"));
        CHECK_THAT(result.err, Catch::Contains("1 malformed")); // the summary is not a log line
    }
    SECTION("text log lines read evrelay: warning:") {
        const auto result = with({}, {});
        INFO(result.err);
        CHECK_THAT(result.err,
                   Catch::Contains("evrelay: warning: replay: " + input.string() + ":2:"));
    }
    SECTION("a bad value after the subcommand is a usage error (64)") {
        const auto result = with({}, {"--log-level", "loud"});
        CHECK(result.status == 64);
        CHECK_THAT(result.err, Catch::Contains("--log-level"));
    }
}
