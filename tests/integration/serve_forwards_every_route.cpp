// Posts to every SDK route of `serve` arrive upstream at the right path, with the right
// credential and metadata; /metrics moves.
#include "serve_process.hpp"

#include <catch2/catch.hpp>

#include <csignal>

using namespace evrelay::test;

TEST_CASE("serve forwards posts from every route upstream", "[serve]") {
    RecordingUpstream upstream;
    ServeProcess serve({"--sdk-key", "sdk-serve-test-0001", "--mobile-key", "mob-serve-test-0002",
                        "--env-id", "client-side-0003", "--events-uri", upstream.url(), "--no-gzip",
                        "--flush-interval", "60s"});
    const auto events = make_events(6);
    auto body = [&](std::size_t i) { return as_array({events[i]}); };
    const std::vector<std::pair<std::string, std::string>> server = {
        {"Authorization", "sdk-serve-test-0001"}, {"X-LaunchDarkly-Event-Schema", "4"}};
    const std::vector<std::pair<std::string, std::string>> mobile = {
        {"Authorization", "api_key mob-serve-test-0002"}, {"X-LaunchDarkly-Event-Schema", "4"}};
    CHECK(http_request(serve.port(), "POST", "/bulk", server, body(0)).status == 202);
    CHECK(http_request(serve.port(), "POST", "/mobile", mobile, body(1)).status == 202);
    CHECK(http_request(serve.port(), "POST", "/mobile/events", mobile, body(2)).status == 202);
    CHECK(http_request(serve.port(), "POST", "/mobile/events/bulk", mobile, body(3)).status == 202);
    const auto js = http_request(serve.port(), "POST", "/events/bulk/client-side-0003",
                                 {{"X-LaunchDarkly-Event-Schema", "4"}}, body(4));
    CHECK(js.status == 202);
    CHECK(js.header("access-control-allow-origin") == "*");
    CHECK(http_request(serve.port(), "POST", "/diagnostic", server, R"({"kind":"diagnostic"})")
              .status == 202);
    CHECK(http_request(serve.port(), "POST", "/bulk", {{"Authorization", "sdk-wrong"}}, body(5))
              .status == 401);
    const auto flush = http_request(serve.port(), "POST", "/admin/flush");
    CHECK(flush.status == 202);
    REQUIRE(upstream.wait_for_requests(4, std::chrono::seconds(10)));

    std::map<std::string, std::vector<std::string>> by_path;
    for (const auto& request : upstream.requests()) {
        by_path[request.target].push_back(request.body);
        if (request.target == "/bulk") {
            CHECK(request.header("authorization") == "sdk-serve-test-0001");
            CHECK(request.header("x-launchdarkly-event-schema") == "4");
        }
        if (request.target == "/mobile") {
            CHECK(request.header("authorization") == "mob-serve-test-0002");
        }
    }
    CHECK(by_path["/bulk"] == std::vector<std::string>{body(0)});
    REQUIRE(by_path["/mobile"].size() == 1);
    CHECK(events_of(by_path["/mobile"][0]) ==
          std::vector<std::string>{events[1], events[2], events[3]});
    CHECK(by_path["/events/bulk/client-side-0003"] == std::vector<std::string>{body(4)});
    CHECK(by_path["/diagnostic"] == std::vector<std::string>{R"({"kind":"diagnostic"})"});

    const auto metrics = http_request(serve.port(), "GET", "/metrics");
    CHECK(metrics.status == 200);
    CHECK(metrics.body.find("evrelay_events_received_total{env=\"default\",sdk=\"mobile\"} 3") !=
          std::string::npos);
    CHECK(metrics.body.find("evrelay_posts_rejected_total{status=\"401\"} 1") != std::string::npos);

    serve.process().send_signal(SIGTERM);
    const auto status = serve.process().wait(std::chrono::seconds(20));
    INFO(serve.process().stderr_text());
    CHECK(status == 0);
    CHECK(serve.process().stderr_text().find(
              "serve: stopped; 6 events received, 6 forwarded, 0 dropped, 0 spooled") != std::string::npos);
}
