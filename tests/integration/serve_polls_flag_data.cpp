// SPEC §8: without --flags, serve polls GET {baseUri}/sdk/latest-all with each environment's SDK
// key, ETag-aware, every --flags-poll-interval; it keeps the last data through a refused key and
// an outage, and until there is any data counts evaluations as unknown flags (said once).
#include "harness.hpp"
#include "serve_client.hpp"
#include "summarise_support.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <thread>

using namespace evrelay::test;

namespace {

constexpr const char* k_sdk_key = "sdk-poll-test-0000-4242";

std::vector<RecordedRequest> flag_polls(const RecordingUpstream& upstream) {
    std::vector<RecordedRequest> polls;
    for (const RecordedRequest& request : upstream.requests()) {
        if (request.method == "GET" && request.target == "/sdk/latest-all") {
            polls.push_back(request);
        }
    }
    return polls;
}

bool wait_for_polls(const RecordingUpstream& upstream, std::size_t count) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
        if (flag_polls(upstream).size() >= count) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

// Posts one evaluation of the tracked flag, flushes, and returns what the upstream got for it.
UpstreamOutput evaluate_tracked(ServeProcess& serve, RecordingUpstream& upstream) {
    const std::size_t before = upstream.request_count();
    CHECK(http_request(serve.port(), "POST", "/bulk",
                       {{"Authorization", k_sdk_key}, {"X-LaunchDarkly-Event-Schema", "2"}},
                       as_array({php_feature("tracked", "u1", R"("green")", 1, 7, R"("red")")}))
              .status == 202);
    serve.process().send_signal(SIGUSR1);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::vector<RecordedRequest> posts;
    while (posts.empty() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        const auto all = upstream.requests();
        for (std::size_t i = before; i < all.size(); ++i) {
            if (all[i].method == "POST") {
                posts.push_back(all[i]);
            }
        }
    }
    REQUIRE_FALSE(posts.empty());
    return read_upstream_output(posts);
}

} // namespace

TEST_CASE("serve polls flag data with the SDK key and ETag, keeping it through 401 and outages",
          "[serve][summary]") {
    RecordingUpstream upstream;
    upstream.set_resource("/sdk/latest-all", summarise_flag_data(), "\"etag-1\"");
    ServeProcess serve({"--sdk-key", k_sdk_key, "--events-uri", upstream.url(), "--base-uri",
                        upstream.url(), "--flags-poll-interval", "1s", "--flush-interval", "1h"});
    ServeGuard guard(serve);

    REQUIRE(wait_for_polls(upstream, 2));
    auto polls = flag_polls(upstream);
    CHECK(polls[0].header("authorization") == k_sdk_key);
    CHECK(polls[0].status == 200);
    CHECK(polls[1].header("if-none-match") == "\"etag-1\"");
    CHECK(polls[1].status == 304);
    // The flag data says "tracked" has trackEvents: a full feature event.
    CHECK(evaluate_tracked(serve, upstream).feature_keys == std::vector<std::string>{"tracked"});

    // The key is refused, then LaunchDarkly is down: the last data stays in use.
    upstream.script_path("/sdk/latest-all", {401, 503, 503});
    REQUIRE(wait_for_polls(upstream, polls.size() + 4));
    CHECK(evaluate_tracked(serve, upstream).feature_keys == std::vector<std::string>{"tracked"});
    REQUIRE(guard.stop() == 0);
    const std::string log = serve.process().stderr_text();
    INFO(log);
    CHECK(log.find("refused the SDK key") != std::string::npos);
    CHECK(log.find(k_sdk_key) == std::string::npos); // masked
    CHECK(log.find("keeping the last flag data") != std::string::npos);
}

TEST_CASE("serve without any flag data counts evaluations as unknown and says so once",
          "[serve][summary]") {
    RecordingUpstream upstream;
    upstream.script_path("/sdk/latest-all", std::vector<int>(100, 503));
    upstream.set_resource("/sdk/latest-all", summarise_flag_data(), "\"etag-1\"");
    ServeProcess serve({"--sdk-key", k_sdk_key, "--events-uri", upstream.url(), "--base-uri",
                        upstream.url(), "--flags-poll-interval", "1s", "--flush-interval", "1h"});
    ServeGuard guard(serve);
    REQUIRE(wait_for_polls(upstream, 1));

    for (int i = 0; i < 2; ++i) {
        const UpstreamOutput out = evaluate_tracked(serve, upstream);
        CHECK(out.feature_keys.empty());
        CHECK(out.counters.at("tracked") ==
              std::vector<SummaryCounter>{{R"("green")", -1, -1, true, 1}});
    }
    REQUIRE(guard.stop() == 0);
    const std::string log = serve.process().stderr_text();
    INFO(log);
    std::size_t said = 0;
    for (std::size_t at = log.find("no flag data"); at != std::string::npos;
         at = log.find("no flag data", at + 1)) {
        ++said;
    }
    CHECK(said == 1);
    CHECK(log.find("cannot read " + upstream.url() + "/sdk/latest-all: HTTP 503") !=
          std::string::npos);
}
