// Every error answer of `serve` (401, 404, 405, 400, 413), with its JSON message, through the
// binary; nothing of a rejected post reaches the upstream.
#include "serve_client.hpp"

#include <catch2/catch.hpp>

#include <thread>

using namespace evrelay::test;

namespace {

constexpr const char* k_sdk_key = "sdk-reject-test-0001";
constexpr const char* k_mobile_key = "mob-reject-test-0002";
constexpr const char* k_env_id = "client-side-reject-0003";
constexpr std::size_t k_max_body = 2000;

using Headers = std::vector<std::pair<std::string, std::string>>;

Headers server_headers(const std::string& authorization = k_sdk_key) {
    return {{"Authorization", authorization}, {"X-LaunchDarkly-Event-Schema", "4"}};
}

// A rejection is an error status with a JSON body {"message":"…"} that contains `words`.
void check_rejected(const ClientResponse& response, long status, const std::string& words) {
    INFO("status " << response.status << ", body " << response.body);
    CHECK(response.status == status);
    CHECK(response.header("content-type") == "application/json");
    CHECK(response.body.starts_with("{\"message\":\""));
    CHECK(response.body.ends_with("\"}"));
    CHECK(response.body.find(words) != std::string::npos);
}

} // namespace

TEST_CASE("serve rejects bad requests with a JSON message and forwards nothing of them",
          "[serve]") {
    RecordingUpstream upstream;
    ServeProcess serve({"--sdk-key", k_sdk_key, "--mobile-key", k_mobile_key, "--env-id", k_env_id,
                        "--events-uri", upstream.url(), "--no-gzip", "--flush-interval", "1h",
                        "--max-body", std::to_string(k_max_body)});
    ServeGuard guard(serve);
    const auto port = serve.port();
    const auto events = make_events(40);
    std::vector<std::string> accepted_events;
    auto post_good = [&](std::size_t i) {
        const auto response =
            http_request(port, "POST", "/bulk", server_headers(), as_array({events[i]}));
        CHECK(response.status == 202);
        CHECK(response.body.empty());
        accepted_events.push_back(events[i]);
    };
    const std::string one = as_array({events[30]});

    post_good(0);

    { // 401
        check_rejected(http_request(port, "POST", "/bulk", {}, one), 401, "missing Authorization");
        check_rejected(
            send_request(port,
                         {.target = "/bulk", .headers = {{"Authorization", ""}}, .body = one}),
            401, "missing Authorization");
        // "api_key " loses its trailing space to HTTP's whitespace trimming: "api_key" is then an
        // (unknown) key.
        check_rejected(http_request(port, "POST", "/bulk", server_headers("api_key "), one), 401,
                       "unknown");
        check_rejected(
            http_request(port, "POST", "/bulk", server_headers(std::string(k_sdk_key) + " x"), one),
            401, "malformed Authorization");
        check_rejected(
            http_request(port, "POST", "/bulk", server_headers("sdk-unknown-key-9999"), one), 401,
            "unknown");
        // A mobile key is not an SDK key, and the other way round.
        check_rejected(http_request(port, "POST", "/bulk", server_headers(k_mobile_key), one), 401,
                       "unknown");
        check_rejected(
            http_request(port, "POST", "/mobile", server_headers("mob-unknown-key-9999"), one), 401,
            "unknown");
        check_rejected(http_request(port, "POST", "/mobile", server_headers(k_sdk_key), one), 401,
                       "unknown");
        // The rejection names the credential masked, never in full.
        const auto unknown =
            http_request(port, "POST", "/bulk", server_headers("sdk-unknown-key-9999"), one);
        CHECK(unknown.body.find("sdk-unknown-key-9999") == std::string::npos);
    }
    post_good(1);

    { // 404
        check_rejected(http_request(port, "POST", "/events/bulk/client-side-unknown", {}, one), 404,
                       "unknown client-side ID");
        check_rejected(
            http_request(port, "POST", "/events/diagnostic/client-side-unknown", {}, "{}"), 404,
            "unknown client-side ID");
        check_rejected(http_request(port, "POST", "/no/such/path", server_headers(), one), 404,
                       "/no/such/path");
        check_rejected(http_request(port, "POST", "/bulk/extra", server_headers(), one), 404,
                       "/bulk/extra");
    }

    { // 405
        const auto get_bulk = http_request(port, "GET", "/bulk", server_headers());
        check_rejected(get_bulk, 405, "GET");
        CHECK(get_bulk.header("allow") == "POST");
        const auto put_js = http_request(port, "PUT", std::string("/events/bulk/") + k_env_id, {});
        check_rejected(put_js, 405, "PUT");
        CHECK(put_js.header("allow") == "POST, OPTIONS");
        const auto post_status = http_request(port, "POST", "/status", {}, "{}");
        check_rejected(post_status, 405, "POST");
        CHECK(post_status.header("allow") == "GET");
    }
    post_good(2);

    { // 400
        const auto empty = http_request(port, "POST", "/bulk", server_headers(), "");
        CHECK(empty.status == 400);
        CHECK(empty.body == R"({"message":"body may not be empty"})");
        check_rejected(http_request(port, "POST", "/bulk", server_headers(), "  \n "), 400,
                       "body may not be empty");
        check_rejected(http_request(port, "POST", "/diagnostic", server_headers(), ""), 400,
                       "body may not be empty");
        // Malformed JSON: a good event followed by a broken one; the good one is not queued.
        check_rejected(http_request(port, "POST", "/bulk", server_headers(),
                                    "[" + events[31] + R"(,{"kind":"custom",)" + "]"),
                       400, "malformed");
        check_rejected(http_request(port, "POST", "/bulk", server_headers(), "[" + events[32]), 400,
                       "malformed");
        check_rejected(http_request(port, "POST", "/diagnostic", server_headers(),
                                    R"({"kind":"diagnostic",})"),
                       400, "malformed");
        // Invalid UTF-8 inside a string of an otherwise well-formed array.
        check_rejected(
            http_request(port, "POST", "/bulk", server_headers(),
                         "[" + events[33] + ",{\"kind\":\"custom\",\"key\":\"\xff\xfe\"}]"),
            400, "not valid UTF-8");
        // An object on /bulk that is not a diagnostic event.
        check_rejected(http_request(port, "POST", "/bulk", server_headers(), events[34]), 400,
                       "not an object");
        // Elements that are not objects.
        check_rejected(
            http_request(port, "POST", "/bulk", server_headers(), "[" + events[35] + ",42]"), 400,
            "element 1 is a number, not an object");
        check_rejected(
            http_request(port, "POST", "/bulk", server_headers(), "[" + events[36] + ",\"x\"]"),
            400, "element 1 is a string, not an object");
        check_rejected(http_request(port, "POST", "/bulk", server_headers(), "\"just a string\""),
                       400, "JSON array");
        // A diagnostic route wants one object, not an array.
        check_rejected(http_request(port, "POST", "/diagnostic", server_headers(), one), 400,
                       "object");
        // Content-Encoding: gzip on a body that is not gzip.
        auto gzip_headers = server_headers();
        gzip_headers.emplace_back("Content-Encoding", "gzip");
        check_rejected(http_request(port, "POST", "/bulk", gzip_headers, one), 400, "gzip");
    }
    post_good(3);

    { // 413
        // One byte over --max-body as sent, and exactly --max-body is fine.
        std::string exact = as_array({events[4]});
        exact.insert(1, k_max_body - exact.size(), ' ');
        REQUIRE(exact.size() == k_max_body);
        const auto at_limit = http_request(port, "POST", "/bulk", server_headers(), exact);
        CHECK(at_limit.status == 202);
        accepted_events.push_back(events[4]);
        std::string over = as_array({events[37]});
        over.insert(1, k_max_body + 1 - over.size(), ' ');
        REQUIRE(over.size() == k_max_body + 1);
        check_rejected(http_request(port, "POST", "/bulk", server_headers(), over), 413,
                       std::to_string(k_max_body));
        // The same over a chunked body (no Content-Length to check up front).
        check_rejected(send_request(port, {.target = "/bulk",
                                           .headers = server_headers(),
                                           .body = over,
                                           .chunked = true,
                                           .chunk_bytes = 300}),
                       413, std::to_string(k_max_body));

        // gzip: small on the wire, over the limit once decompressed.
        const auto many = make_events(30, 100);
        const std::string big = as_array(many);
        const std::string compressed = gzip_bytes(big);
        REQUIRE(big.size() > k_max_body);
        REQUIRE(compressed.size() < k_max_body);
        auto gzip_headers = server_headers();
        gzip_headers.emplace_back("Content-Encoding", "gzip");
        check_rejected(http_request(port, "POST", "/bulk", gzip_headers, compressed), 413,
                       "decompressed");
    }
    post_good(5);

    const auto flush = http_request(port, "POST", "/admin/flush");
    CHECK(flush.status == 202);
    REQUIRE(upstream.wait_for_requests(1, std::chrono::seconds(10)));
    // Nothing else may trickle in after the flushed payload.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const auto requests = upstream.requests();
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].target == "/bulk");
    CHECK(requests[0].header("authorization") == k_sdk_key);
    CHECK(all_events(requests) == accepted_events);

    const auto metrics = http_request(port, "GET", "/metrics");
    CHECK(metrics.body.find("evrelay_posts_rejected_total{status=\"401\"} 9") != std::string::npos);

    const auto status = guard.stop();
    INFO(serve.process().stderr_text());
    CHECK(status == 0);
}
