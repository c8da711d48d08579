// `serve --capture FILE --no-forward` answers posts, sends nothing, and records one
// evrelay-capture/1 line per post without any credential; `replay` of that file delivers the
// same events (round trip).
#include "serve_client.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <sstream>
#include <thread>

using namespace evrelay::test;

namespace {

constexpr const char* k_sdk_key = "sdk-capture-test-7f3a9c21";
constexpr const char* k_payload_id = "0b6f3e0e-8f5c-4c1b-9d2a-6a1f7d4c2e11";

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        lines.push_back(line);
    }
    return lines;
}

} // namespace

TEST_CASE("serve --capture --no-forward records posts without credentials; replay sends them",
          "[serve]") {
    RecordingUpstream upstream;
    ScratchDir dir;
    const auto config = dir.write("relay.conf", std::string("[Environment \"production\"]\n") +
                                                    "sdkKey = " + k_sdk_key + "\n");
    const auto capture = dir / "capture.ndjson";
    const std::string tags = "application-id/capture application-version/2.0.0";
    const auto events = make_events(5);
    const std::string analytics_body = as_array(events);
    const std::string diagnostic_body =
        R"({"kind":"diagnostic","id":{"diagnosticId":"c1","sdkKeySuffix":"9c21"},"creationDate":1795736414000})";
    {
        ServeProcess serve({"--config", config.string(), "--events-uri", upstream.url(),
                            "--no-forward", "--capture", capture.string(), "--flush-interval",
                            "100ms"});
        ServeGuard guard(serve);
        const auto analytics = http_request(serve.port(), "POST", "/bulk",
                                            {{"Authorization", k_sdk_key},
                                             {"X-LaunchDarkly-Event-Schema", "4"},
                                             {"X-LaunchDarkly-Tags", tags},
                                             {"X-LaunchDarkly-Payload-ID", k_payload_id}},
                                            analytics_body);
        CHECK(analytics.status == 202);
        const auto diagnostic = http_request(
            serve.port(), "POST", "/diagnostic",
            {{"Authorization", "api_key " + std::string(k_sdk_key)}, {"X-LaunchDarkly-Tags", tags}},
            diagnostic_body);
        CHECK(diagnostic.status == 202);
        CHECK(http_request(serve.port(), "POST", "/admin/flush").status == 202);
        // Several flush intervals pass: still nothing may go out.
        std::this_thread::sleep_for(std::chrono::milliseconds(400));
        const auto status = guard.stop();
        INFO(serve.process().stderr_text());
        CHECK(status == 0);
    }
    CHECK(upstream.request_count() == 0);

    const std::string text = read_file(capture);
    INFO(text);
    CHECK(text.find(k_sdk_key) == std::string::npos);
    CHECK(text.find("capture-test-7f3a9c21") == std::string::npos);
    CHECK(text.find("Authorization") == std::string::npos);
    CHECK(text.find("authorization") == std::string::npos);
    REQUIRE(!text.empty());
    CHECK(text.back() == '\n');
    const auto lines = lines_of(text);
    REQUIRE(lines.size() == 2);

    simdjson::dom::parser parser;
    {
        simdjson::dom::object line = parser.parse(lines[0]);
        CHECK(int64_t(line["v"]) == 1);
        CHECK(std::string_view(line["received"]).size() >= 20);
        CHECK(std::string_view(line["env"]) == "production");
        CHECK(std::string_view(line["sdk"]) == "server");
        CHECK(std::string_view(line["kind"]) == "analytics");
        CHECK(int64_t(line["schema"]) == 4);
        CHECK(std::string_view(line["tags"]) == tags);
        CHECK(std::string_view(line["payloadId"]) == k_payload_id);
        CHECK(simdjson::minify(line["events"]) == analytics_body);
        // Embedded as received: the very bytes of the post.
        CHECK(lines[0].find(analytics_body) != std::string::npos);
    }
    {
        simdjson::dom::object line = parser.parse(lines[1]);
        CHECK(int64_t(line["v"]) == 1);
        CHECK(std::string_view(line["env"]) == "production");
        CHECK(std::string_view(line["sdk"]) == "server");
        CHECK(std::string_view(line["kind"]) == "diagnostic");
        CHECK(std::string_view(line["tags"]) == tags);
        CHECK(line["events"].error() == simdjson::NO_SUCH_FIELD);
        CHECK(simdjson::minify(line["event"]) == diagnostic_body);
        CHECK(lines[1].find(diagnostic_body) != std::string::npos);
    }

    // Round trip: the capture replayed delivers the same events with their metadata.
    const auto result = run_evrelay({"replay", "--sdk-key", k_sdk_key, "--events-uri",
                                     upstream.url(), "--no-gzip", capture.string()});
    INFO(result.err);
    CHECK(result.status == 0);
    std::map<std::string, std::vector<RecordedRequest>> by_path;
    for (const auto& request : upstream.requests()) {
        by_path[request.target].push_back(request);
    }
    REQUIRE(by_path["/bulk"].size() == 1);
    const auto& bulk = by_path["/bulk"][0];
    CHECK(bulk.header("authorization") == k_sdk_key);
    CHECK(bulk.header("x-launchdarkly-event-schema") == "4");
    CHECK(bulk.header("x-launchdarkly-tags") == tags);
    CHECK(bulk.header("x-launchdarkly-payload-id").size() == 36);
    CHECK(events_of(bulk.body) == events);
    REQUIRE(by_path["/diagnostic"].size() == 1);
    CHECK(by_path["/diagnostic"][0].header("authorization") == k_sdk_key);
    CHECK(by_path["/diagnostic"][0].body == diagnostic_body);
    CHECK(by_path.size() == 2);
}
