// SIGTERM with events queued (a long flush interval) delivers them all before exiting 0.
#include "serve_process.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>

using namespace evrelay::test;

TEST_CASE("serve delivers queued events on SIGTERM", "[serve]") {
    RecordingUpstream upstream;
    ServeProcess serve({"--sdk-key", "sdk-serve-test-0001", "--events-uri", upstream.url(),
                        "--flush-interval", "1h", "--batch-size", "100"});
    const auto events = make_events(250);
    for (std::size_t i = 0; i < events.size(); i += 10) {
        const std::vector<std::string> part(events.begin() + static_cast<long>(i),
                                            events.begin() + static_cast<long>(i + 10));
        REQUIRE(http_request(serve.port(), "POST", "/bulk",
                             {{"Authorization", "sdk-serve-test-0001"},
                              {"X-LaunchDarkly-Event-Schema", "4"}},
                             as_array(part))
                    .status == 202);
    }
    serve.process().send_signal(SIGTERM);
    const auto status = serve.process().wait(std::chrono::seconds(30));
    INFO(serve.process().stderr_text());
    CHECK(status == 0);
    // The two payloads cut when full go out on two connections at once: either may arrive first.
    std::vector<std::string> delivered = all_events(upstream.requests());
    std::vector<std::string> expected = events;
    std::sort(delivered.begin(), delivered.end());
    std::sort(expected.begin(), expected.end());
    CHECK(delivered == expected);
    CHECK(upstream.request_count() == 3); // 100 + 100 cut when full, 50 at shutdown
}
