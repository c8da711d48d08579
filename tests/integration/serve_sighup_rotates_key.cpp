// SIGHUP re-reads the config file: a new SDK key is accepted and used upstream; a broken file is
// rejected and the old configuration kept.
#include "serve_process.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <thread>

using namespace evrelay::test;

namespace {

// Waits (bounded) until `needle` appears in the process's stderr `times` times.
bool wait_for_log(ChildProcess& process, const std::string& needle, std::size_t times = 1) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
        const std::string err = process.stderr_text();
        std::size_t count = 0;
        for (auto at = err.find(needle); at != std::string::npos; at = err.find(needle, at + 1)) {
            ++count;
        }
        if (count >= times) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

} // namespace

TEST_CASE("serve reloads credentials on SIGHUP", "[serve]") {
    RecordingUpstream upstream;
    ScratchDir dir;
    const auto config =
        dir.write("relay.conf", "[Environment \"production\"]\nsdkKey = sdk-old-key-00000001\n");
    ServeProcess serve({"--config", config.string(), "--events-uri", upstream.url(), "--no-gzip"});
    const std::string body = as_array(make_events(1));
    auto post = [&](const std::string& key) {
        return http_request(serve.port(), "POST", "/bulk",
                            {{"Authorization", key}, {"X-LaunchDarkly-Event-Schema", "4"}}, body)
            .status;
    };
    CHECK(post("sdk-old-key-00000001") == 202);
    CHECK(post("sdk-new-key-00000002") == 401);

    dir.write("relay.conf", "[Environment \"production\"]\nsdkKey = sdk-new-key-00000002\n");
    serve.process().send_signal(SIGHUP);
    REQUIRE(wait_for_log(serve.process(), "configuration reloaded"));
    CHECK(post("sdk-new-key-00000002") == 202);
    CHECK(post("sdk-old-key-00000001") == 401);

    dir.write("relay.conf", "[Environment \"production\"\nsdkKey = broken\n");
    serve.process().send_signal(SIGHUP);
    REQUIRE(wait_for_log(serve.process(), "keeping the old configuration"));
    CHECK(post("sdk-new-key-00000002") == 202);

    serve.process().send_signal(SIGTERM);
    CHECK(serve.process().wait(std::chrono::seconds(20)) == 0);
    const auto requests = upstream.requests();
    REQUIRE(!requests.empty());
    for (const auto& request : requests) {
        // Queued under the old key, delivered after the reload: the current key is used.
        CHECK(request.header("authorization") == "sdk-new-key-00000002");
    }
    CHECK(all_events(requests).size() == 3);
}
