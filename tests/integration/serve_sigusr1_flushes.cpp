// SIGUSR1 flushes queued events at once, long before the flush interval.
#include "serve_client.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <thread>

using namespace evrelay::test;

TEST_CASE("serve flushes queued events on SIGUSR1", "[serve]") {
    RecordingUpstream upstream;
    ServeProcess serve({"--sdk-key", "sdk-usr1-test-0001", "--events-uri", upstream.url(),
                        "--flush-interval", "1h"});
    ServeGuard guard(serve);
    const auto events = make_events(12);
    auto post = [&](std::size_t first, std::size_t count) {
        const std::vector<std::string> part(events.begin() + static_cast<long>(first),
                                            events.begin() + static_cast<long>(first + count));
        CHECK(http_request(
                  serve.port(), "POST", "/bulk",
                  {{"Authorization", "sdk-usr1-test-0001"}, {"X-LaunchDarkly-Event-Schema", "4"}},
                  as_array(part))
                  .status == 202);
    };
    post(0, 4);
    post(4, 4);
    // Queued, not sent: the flush interval is an hour.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(upstream.request_count() == 0);

    serve.process().send_signal(SIGUSR1);
    REQUIRE(upstream.wait_for_requests(1, std::chrono::seconds(5)));
    CHECK(all_events(upstream.requests()) ==
          std::vector<std::string>(events.begin(), events.begin() + 8));

    // A second round: SIGUSR1 again sends only what arrived since.
    post(8, 4);
    serve.process().send_signal(SIGUSR1);
    REQUIRE(upstream.wait_for_requests(2, std::chrono::seconds(5)));
    const auto requests = upstream.requests();
    REQUIRE(requests.size() == 2);
    CHECK(events_of(requests[1].body) ==
          std::vector<std::string>(events.begin() + 8, events.end()));
    CHECK(requests[0].header("x-launchdarkly-payload-id") !=
          requests[1].header("x-launchdarkly-payload-id"));

    const auto status = guard.stop();
    INFO(serve.process().stderr_text());
    CHECK(status == 0);
    CHECK(serve.process().stderr_text().find("SIGUSR1") != std::string::npos);
}
