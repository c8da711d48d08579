// The js routes answer CORS as Relay does (SPEC §4): preflights get every header, the origin is
// echoed when the environment lists it and "*" when it has no list, and the image beacon
// delivers its events upstream.
#include "serve_client.hpp"

#include "core/util/base64.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace evrelay::test;

namespace {

constexpr const char* k_listed_id = "client-side-web-0001";
constexpr const char* k_open_id = "client-side-open-0002";
constexpr const char* k_base_allowed_headers =
    "Cache-Control,Content-Type,Content-Length,Accept-Encoding,X-LaunchDarkly-User-Agent,"
    "X-LaunchDarkly-Payload-ID,X-LaunchDarkly-Wrapper,X-LaunchDarkly-Event-Schema,"
    "X-LaunchDarkly-Tags";

void check_common_cors(const ClientResponse& response) {
    CHECK(response.header("access-control-allow-credentials") == "false");
    CHECK(response.header("access-control-max-age") == "300");
    CHECK(response.header("access-control-expose-headers") == "Date");
}

// What the browser SDK sends: standard base64 made URL-safe, without padding.
std::string url_safe_base64(const std::string& text) {
    std::string encoded = evrelay::util::encode_base64(text);
    std::replace(encoded.begin(), encoded.end(), '+', '-');
    std::replace(encoded.begin(), encoded.end(), '/', '_');
    encoded.erase(encoded.find_last_not_of('=') + 1);
    return encoded;
}

} // namespace

TEST_CASE("serve answers CORS preflights and beacons on the js routes", "[serve]") {
    RecordingUpstream upstream;
    ScratchDir dir;
    const auto config = dir.write("relay.conf", std::string("[Environment \"web\"]\n") +
                                                    "envId = " + k_listed_id + "\n" +
                                                    "allowedOrigin = https://app.example.com\n"
                                                    "allowedOrigin = https://other.example.com\n"
                                                    "allowedHeader = X-Custom-One\n"
                                                    "allowedHeader = X-Custom-Two\n"
                                                    "\n[Environment \"open\"]\n" +
                                                    "envId = " + k_open_id + "\n");
    ServeProcess serve({"--config", config.string(), "--events-uri", upstream.url(), "--no-gzip",
                        "--flush-interval", "1h"});
    ServeGuard guard(serve);
    const auto port = serve.port();
    const std::string listed_bulk = std::string("/events/bulk/") + k_listed_id;
    const std::string listed_diagnostic = std::string("/events/diagnostic/") + k_listed_id;
    const std::string open_bulk = std::string("/events/bulk/") + k_open_id;
    const std::string open_diagnostic = std::string("/events/diagnostic/") + k_open_id;
    const std::string listed_headers =
        std::string(k_base_allowed_headers) + ",X-Custom-One,X-Custom-Two";
    const std::vector<std::pair<std::string, std::string>> preflight_from_app = {
        {"Origin", "https://app.example.com"},
        {"Access-Control-Request-Method", "POST"},
        {"Access-Control-Request-Headers",
         "content-type,x-launchdarkly-event-schema,x-launchdarkly-payload-id"}};

    for (const auto& path : {listed_bulk, listed_diagnostic}) {
        INFO(path);
        const auto response = http_request(port, "OPTIONS", path, preflight_from_app);
        CHECK(response.status == 200);
        CHECK(response.header("access-control-allow-origin") == "https://app.example.com");
        CHECK(response.header("access-control-allow-headers") == listed_headers);
        check_common_cors(response);

        // The second listed origin is echoed too; an unlisted one is never echoed.
        const auto other = http_request(
            port, "OPTIONS", path,
            {{"Origin", "https://other.example.com"}, {"Access-Control-Request-Method", "POST"}});
        CHECK(other.status == 200);
        CHECK(other.header("access-control-allow-origin") == "https://other.example.com");
        const auto foreign = http_request(
            port, "OPTIONS", path,
            {{"Origin", "https://evil.example.net"}, {"Access-Control-Request-Method", "POST"}});
        CHECK(foreign.header("access-control-allow-origin") != "https://evil.example.net");
    }
    for (const auto& path : {open_bulk, open_diagnostic}) {
        INFO(path);
        const auto response = http_request(port, "OPTIONS", path, preflight_from_app);
        CHECK(response.status == 200);
        CHECK(response.header("access-control-allow-origin") == "*");
        CHECK(response.header("access-control-allow-headers") == k_base_allowed_headers);
        check_common_cors(response);
    }

    // The actual posts carry Access-Control-Allow-Origin as well.
    const auto events = make_events(6);
    const std::vector<std::pair<std::string, std::string>> post_headers = {
        {"Origin", "https://app.example.com"},
        {"Content-Type", "application/json"},
        {"X-LaunchDarkly-Event-Schema", "4"}};
    const auto bulk =
        http_request(port, "POST", listed_bulk, post_headers, as_array({events[0], events[1]}));
    CHECK(bulk.status == 202);
    CHECK(bulk.header("access-control-allow-origin") == "https://app.example.com");
    check_common_cors(bulk);
    const std::string diagnostic_body = R"({"kind":"diagnostic","id":{"diagnosticId":"d1"}})";
    const auto diagnostic = http_request(port, "POST", listed_diagnostic,
                                         {{"Origin", "https://app.example.com"}}, diagnostic_body);
    CHECK(diagnostic.status == 202);
    CHECK(diagnostic.header("access-control-allow-origin") == "https://app.example.com");
    const auto open = http_request(port, "POST", open_bulk, post_headers, as_array({events[2]}));
    CHECK(open.status == 202);
    CHECK(open.header("access-control-allow-origin") == "*");

    // Image beacon: events as a base64 JSON array in d=.
    const std::vector<std::string> beacon_events = {events[3], events[4], events[5]};
    const auto beacon = http_request(port, "GET",
                                     std::string("/a/") + k_open_id +
                                         ".gif?d=" + url_safe_base64(as_array(beacon_events)),
                                     {{"Origin", "https://app.example.com"}});
    CHECK(beacon.status == 200);
    CHECK(beacon.header("content-type") == "image/gif");
    CHECK(beacon.body.starts_with("GIF89a"));
    CHECK(beacon.header("access-control-allow-origin") == "*");

    CHECK(http_request(port, "POST", "/admin/flush").status == 202);
    // The beacon carries no schema header, so its events may form a payload of their own: wait
    // for the events, not for a number of requests.
    std::map<std::string, std::vector<std::string>> events_by_path;
    std::map<std::string, std::vector<std::string>> bodies_by_path;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    do {
        upstream.wait_for_requests(upstream.request_count() + 1, std::chrono::milliseconds(200));
        events_by_path.clear();
        bodies_by_path.clear();
        for (const auto& request : upstream.requests()) {
            bodies_by_path[request.target].push_back(request.body);
            if (request.target.starts_with("/events/bulk/")) {
                const auto part = events_of(request.body);
                auto& all = events_by_path[request.target];
                all.insert(all.end(), part.begin(), part.end());
            }
        }
    } while ((events_by_path[open_bulk].size() < 4 || events_by_path[listed_bulk].size() < 2 ||
              bodies_by_path[listed_diagnostic].empty()) &&
             std::chrono::steady_clock::now() < deadline);

    for (const auto& request : upstream.requests()) {
        INFO(request.target);
        // js payloads carry no credential: the env ID is in the path.
        CHECK(request.header("authorization").empty());
        if (request.body.find(R"("seq":0})") != std::string::npos ||
            request.body.find(R"("seq":2})") != std::string::npos) {
            CHECK(request.header("x-launchdarkly-event-schema") == "4");
        }
    }
    CHECK(events_by_path[listed_bulk] == std::vector<std::string>{events[0], events[1]});
    auto open_events = events_by_path[open_bulk];
    std::vector<std::string> open_expected = {events[2]};
    open_expected.insert(open_expected.end(), beacon_events.begin(), beacon_events.end());
    std::sort(open_events.begin(), open_events.end());
    std::sort(open_expected.begin(), open_expected.end());
    CHECK(open_events == open_expected);
    CHECK(bodies_by_path[listed_diagnostic] == std::vector<std::string>{diagnostic_body});

    const auto status = guard.stop();
    INFO(serve.process().stderr_text());
    CHECK(status == 0);
}
