// serve --durable --durable-timeout on a stalled disk (tests/preload/stall_fdatasync.cpp, an
// LD_PRELOAD shim: fdatasync waits while a flag file exists): the post is answered 503 once the
// timeout passes, its line is still written when the disk comes back, the SDK's retry (same
// payload ID) is answered 202 without a second line, and the upstream gets its events once.
#include "serve_client.hpp"
#include "spool_support.hpp"

#include <catch2/catch.hpp>

#include <filesystem>

using namespace evrelay::test;

namespace {

// The shim, built next to this test binary (tests/CMakeLists.txt).
std::string stall_fdatasync_library() {
    const auto path =
        std::filesystem::read_symlink("/proc/self/exe").parent_path() / "libstall_fdatasync.so";
    REQUIRE(std::filesystem::exists(path));
    return path.string();
}

} // namespace

TEST_CASE("serve --durable-timeout: 503 on a stalled disk, the post still kept once",
          "[spool][durable]") {
    const std::string key = "sdk-durable-timeout-0001";
    const std::string id = "9b3c1b2a-0000-4000-8000-000000000007";
    ScratchDir scratch;
    const std::string spool = scratch.path().string() + "/spool";
    const auto stall_flag = scratch.write("disk-stalled", "");
    RecordingUpstream upstream;
    const auto events = make_events(5);
    ServeProcess serve({"--sdk-key", key, "--events-uri", upstream.url(), "--spool", spool,
                        "--durable", "--durable-timeout", "300ms", "--flush-interval", "1s"},
                       {{"LD_PRELOAD", stall_fdatasync_library()},
                        {"EVRELAY_TEST_STALL_SYNC", stall_flag.string()}});
    ServeGuard guard(serve);
    auto post = [&] {
        return http_request(serve.port(), "POST", "/bulk",
                            {{"Authorization", key},
                             {"X-LaunchDarkly-Event-Schema", "4"},
                             {"X-LaunchDarkly-Payload-ID", id}},
                            as_array(events));
    };
    const auto started = std::chrono::steady_clock::now();
    const auto refused = post();
    CHECK(refused.status == 503);
    CHECK(refused.header("retry-after") == "1");
    CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(300));
    CHECK(wait_for_log(serve.process(), "not on disk within --durable-timeout"));
    // The SDK retries while the disk still stalls: it waits for the first copy, and its own
    // deadline answers it 503 again.
    CHECK(post().status == 503);
    CHECK(upstream.request_count() == 0);

    std::filesystem::remove(stall_flag); // the disk comes back: the first copy is written
    REQUIRE(wait_until([&] { return delivered_events(upstream.requests()).size() >= 5; },
                       std::chrono::seconds(20)));
    CHECK(post().status == 202); // the SDK's next retry: stored already
    CHECK(guard.stop() == 0);
    INFO(serve.process().stderr_text());
    const auto delivered = delivered_events(upstream.requests());
    CHECK(delivered == std::multiset<std::string>(events.begin(), events.end()));
    CHECK(files_with_suffix(spool, ".seg").empty());
}
