// Posts framed as real SDKs frame them — gzip-compressed, chunked without Content-Length, header
// names in odd case (v9 sends `x-launchDarkly-event-schema`) — are accepted and their events go
// upstream with their schema and tags.
#include "serve_client.hpp"

#include <catch2/catch.hpp>

using namespace evrelay::test;

TEST_CASE("serve accepts gzip, chunked bodies and header names in any case", "[serve]") {
    RecordingUpstream upstream;
    ServeProcess serve({"--sdk-key", "sdk-framing-test-0001", "--events-uri", upstream.url(),
                        "--flush-interval", "1h"});
    ServeGuard guard(serve);
    const std::string tags = "application-id/framing application-version/1.0.0";
    const auto events = make_events(30);
    const std::vector<std::string> first(events.begin(), events.begin() + 10);
    const std::vector<std::string> second(events.begin() + 10, events.begin() + 20);
    const std::vector<std::string> third(events.begin() + 20, events.end());

    const auto gzipped =
        send_request(serve.port(), {.target = "/bulk",
                                    .headers = {{"Authorization", "sdk-framing-test-0001"},
                                                {"X-LaunchDarkly-Event-Schema", "4"},
                                                {"X-LaunchDarkly-Tags", tags},
                                                {"Content-Encoding", "gzip"}},
                                    .body = gzip_bytes(as_array(first))});
    CHECK(gzipped.status == 202);

    const auto chunked =
        send_request(serve.port(), {.target = "/bulk",
                                    .headers = {{"authorization", "sdk-framing-test-0001"},
                                                {"x-launchDarkly-event-schema", "4"},
                                                {"x-launchdarkly-tags", tags},
                                                {"content-type", "application/json"}},
                                    .body = as_array(second),
                                    .chunked = true,
                                    .chunk_bytes = 97});
    CHECK(chunked.status == 202);

    // Both at once: a gzip body sent in chunks, header names upper-cased.
    const auto both =
        send_request(serve.port(), {.target = "/bulk",
                                    .headers = {{"AUTHORIZATION", "sdk-framing-test-0001"},
                                                {"X-LAUNCHDARKLY-EVENT-SCHEMA", "4"},
                                                {"X-LaunchDarkly-TAGS", tags},
                                                {"CONTENT-ENCODING", "GZIP"}},
                                    .body = gzip_bytes(as_array(third)),
                                    .chunked = true,
                                    .chunk_bytes = 50});
    CHECK(both.status == 202);

    CHECK(http_request(serve.port(), "POST", "/admin/flush").status == 202);
    REQUIRE(upstream.wait_for_requests(1, std::chrono::seconds(10)));
    const auto requests = upstream.requests();
    // One metadata (schema 4, the same tags) → one queue → one payload.
    REQUIRE(requests.size() == 1);
    const auto& request = requests[0];
    CHECK(request.target == "/bulk");
    CHECK(request.header("authorization") == "sdk-framing-test-0001");
    CHECK(request.header("x-launchdarkly-event-schema") == "4");
    CHECK(request.header("x-launchdarkly-tags") == tags);
    CHECK(request.header("x-launchdarkly-payload-id").size() == 36);
    CHECK(!request.gzip_error);
    CHECK(all_events(requests) == events);

    const auto status = guard.stop();
    INFO(serve.process().stderr_text());
    CHECK(status == 0);
}
