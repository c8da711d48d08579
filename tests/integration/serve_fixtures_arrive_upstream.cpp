// Every POST the real SDKs made (tests/fixtures/*.ndjson: v9, legacy, browser), sent to `serve`
// with its recorded headers (original-case names, chunked or Content-Length framing, gzip),
// arrives upstream at the right path with the right credential, schema, tags and a payload ID,
// grouped per metadata.
#include "serve_client.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

using namespace evrelay::test;

namespace {

constexpr const char* k_sdk_key = "sdk-fixture-key-0123";
constexpr const char* k_env_id = "fixture-client-side-id";

// Where events of one metadata go: (upstream path, schema header, tags header).
using GroupKey = std::tuple<std::string, std::string, std::string>;

struct Expected {
    std::map<GroupKey, std::vector<std::string>> events; // analytics
    std::map<std::pair<std::string, std::string>, std::vector<std::string>>
        diagnostics; // path, tags
    std::size_t posts = 0;
};

std::string lower(std::string text) {
    for (char& c : text) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return text;
}

std::string diagnostic_path_for(const std::string& inbound_path) {
    if (inbound_path.starts_with("/events/")) {
        return std::string("/events/diagnostic/") + k_env_id;
    }
    return "/diagnostic";
}

// Sends one recorded POST to serve and records what should arrive upstream.
void replay_record(std::uint16_t port, simdjson::dom::element record, Expected& expected) {
    const std::string path{std::string_view(record["path"])};
    std::map<std::string, std::string> original_case;
    for (simdjson::dom::element name : record["rawHeaderNames"].get_array()) {
        const std::string text{std::string_view(name)};
        original_case[lower(text)] = text;
    }
    ClientRequest request;
    request.target = path;
    request.body = simdjson::minify(record["body"]);
    const bool is_array = request.body.front() == '[';
    std::string schema;
    std::string tags;
    bool gzip = false;
    for (auto [key, value] : record["headers"].get_object()) {
        const std::string name{key};
        const std::string text{std::string_view(value)};
        if (name == "host" || name == "connection" || name == "content-length") {
            continue;
        }
        if (name == "transfer-encoding") {
            request.chunked = true;
            continue;
        }
        if (name == "content-encoding") {
            gzip = true;
        }
        if (name == "x-launchdarkly-event-schema") {
            schema = text;
        }
        if (name == "x-launchdarkly-tags") {
            tags = text;
        }
        const auto spelled = original_case.find(name);
        request.headers.emplace_back(spelled == original_case.end() ? name : spelled->second, text);
    }
    const std::string body = request.body;
    if (gzip) {
        // The capture holds the body gunzipped; send it compressed as the SDK did.
        request.body = gzip_bytes(body);
    }
    const auto response = send_request(port, request);
    INFO(path << " " << body.substr(0, 120));
    CHECK(response.status == 202);
    ++expected.posts;
    if (is_array) {
        auto& events = expected.events[{path, schema.empty() ? "1" : schema, tags}];
        const auto part = events_of(body);
        events.insert(events.end(), part.begin(), part.end());
    } else {
        expected.diagnostics[{diagnostic_path_for(path), tags}].push_back(body);
    }
}

} // namespace

TEST_CASE("serve forwards every real SDK post upstream, grouped per metadata", "[serve]") {
    RecordingUpstream upstream;
    ServeProcess serve({"--sdk-key", k_sdk_key, "--env-id", k_env_id, "--events-uri",
                        upstream.url(), "--flush-interval", "1h"});
    ServeGuard guard(serve);

    std::vector<std::filesystem::path> fixtures;
    for (const auto& entry :
         std::filesystem::directory_iterator(fixture_path("PROTOCOL.md").parent_path())) {
        if (entry.path().extension() == ".ndjson") {
            fixtures.push_back(entry.path());
        }
    }
    std::sort(fixtures.begin(), fixtures.end());
    REQUIRE(fixtures.size() >= 10);

    Expected expected;
    simdjson::dom::parser parser;
    for (const auto& fixture : fixtures) {
        std::ifstream in(fixture);
        REQUIRE(in.good());
        std::string line;
        while (std::getline(in, line)) {
            if (line.empty()) {
                continue;
            }
            simdjson::dom::element record = parser.parse(line);
            if (std::string_view(record["method"]) != "POST") {
                continue;
            }
            INFO(fixture.filename().string());
            replay_record(serve.port(), record, expected);
        }
    }
    REQUIRE(expected.posts >= 30);

    // SIGTERM delivers every queue (one payload per metadata) before serve exits.
    const auto status = guard.stop();
    INFO(serve.process().stderr_text());
    CHECK(status == 0);

    std::map<GroupKey, std::vector<std::string>> events;
    std::map<GroupKey, std::size_t> payloads;
    std::map<std::pair<std::string, std::string>, std::vector<std::string>> diagnostics;
    for (const auto& request : upstream.requests()) {
        INFO(request.target);
        CHECK(!request.gzip_error);
        const bool js = request.target.starts_with("/events/");
        if (js) {
            CHECK(request.header("authorization").empty());
        } else {
            CHECK(request.header("authorization") == k_sdk_key);
        }
        if (request.target == "/bulk" || request.target.starts_with("/events/bulk/")) {
            CHECK(request.header("x-launchdarkly-payload-id").size() == 36);
            const GroupKey key{request.target, request.header("x-launchdarkly-event-schema"),
                               request.header("x-launchdarkly-tags")};
            const auto part = events_of(request.body);
            events[key].insert(events[key].end(), part.begin(), part.end());
            ++payloads[key];
        } else {
            CHECK(request.header("x-launchdarkly-payload-id").empty());
            diagnostics[{request.target, request.header("x-launchdarkly-tags")}].push_back(
                request.body);
        }
    }
    // Events keep their order within one metadata; every metadata is one payload.
    CHECK(events == expected.events);
    for (const auto& [key, count] : payloads) {
        INFO(std::get<0>(key) << " schema " << std::get<1>(key) << " tags " << std::get<2>(key));
        CHECK(count == 1);
    }
    // Diagnostics are forwarded one by one, possibly concurrently: compare as multisets.
    for (auto* map : {&diagnostics, &expected.diagnostics}) {
        for (auto& [key, bodies] : *map) {
            std::sort(bodies.begin(), bodies.end());
        }
    }
    CHECK(diagnostics == expected.diagnostics);
}
