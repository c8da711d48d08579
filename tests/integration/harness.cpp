#include "harness.hpp"

#include "core/json/event_splitter.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <fstream>

namespace evrelay::test {

RunResult run_evrelay(const std::vector<std::string>& args, std::optional<std::string> stdin_data,
                      std::chrono::milliseconds timeout, std::map<std::string, std::string> env) {
    ChildProcess::Options options;
    options.args.push_back(EVRELAY_BINARY);
    options.args.insert(options.args.end(), args.begin(), args.end());
    options.stdin_data = std::move(stdin_data);
    options.env = std::move(env);
    // The tests choose every setting; nothing from the developer's shell may leak in.
    options.unset_env = {
        "EVENTS_HOST",       "HTTPS_PROXY",     "https_proxy",     "HTTP_PROXY",
        "http_proxy",        "ALL_PROXY",       "all_proxy",       "NO_PROXY",
        "no_proxy",          "PROXY_URL",       "PROXY_AUTH_USER", "PROXY_AUTH_PASSWORD",
        "PROXY_AUTH_DOMAIN", "PROXY_AUTH_NTLM", "PROXY_CA_CERTS",  "USE_EVENTS"};
    return run_process(std::move(options), timeout);
}

std::vector<std::string> events_of(const std::string& body) {
    EventSplitter splitter;
    std::vector<std::string_view> views;
    INFO("body: " << body.substr(0, 200));
    REQUIRE(splitter.split_array(body, body.size(), views));
    return {views.begin(), views.end()};
}

std::vector<std::string> all_events(const std::vector<RecordedRequest>& requests) {
    std::vector<std::string> events;
    for (const auto& request : requests) {
        auto part = events_of(request.body);
        events.insert(events.end(), part.begin(), part.end());
    }
    return events;
}

std::vector<std::string> make_events(std::size_t count, std::size_t first_seq) {
    std::vector<std::string> events;
    events.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        const std::size_t seq = first_seq + i;
        const std::string key = "user-" + std::to_string(seq % 97);
        switch (seq % 4) {
        case 0:
            events.push_back(
                R"({"kind":"feature","creationDate":1795736414669,"context":{"kind":"user","key":")" +
                key +
                R"(","name":"User é"},"key":"harness-bool-tracked","value":true,"default":false,"variation":0,"version":11,"seq":)" +
                std::to_string(seq) + "}");
            break;
        case 1:
            events.push_back(
                R"({"kind":"custom","creationDate":1795736414670,"key":"harness-metric-0","context":{"kind":"user","key":")" +
                key + R"("},"data":{"i":0,"note":"metric+data"},"metricValue":1.5,"seq":)" +
                std::to_string(seq) + "}");
            break;
        case 2:
            events.push_back(
                R"({"kind":"index","creationDate":1795736414671,"context":{"kind":"multi","user":{"key":")" +
                key + R"("},"device":{"os":"linux","key":"d1"}},"seq":)" + std::to_string(seq) +
                "}");
            break;
        default:
            events.push_back(
                R"({"kind":"identify","creationDate":1795736414672,"context":{"kind":"org","key":")" +
                key + R"(","_meta":{"redactedAttributes":["tier"]}},"seq":)" + std::to_string(seq) +
                "}");
            break;
        }
    }
    return events;
}

std::string as_ndjson(const std::vector<std::string>& events) {
    std::string text;
    for (const auto& event : events) {
        text += event;
        text += '\n';
    }
    return text;
}

std::string as_array(const std::vector<std::string>& events) {
    std::string text = "[";
    for (std::size_t i = 0; i < events.size(); ++i) {
        if (i > 0) {
            text += ',';
        }
        text += events[i];
    }
    return text + "]";
}

std::string capture_line(const std::string& env, const std::string& sdk, int schema,
                         const std::string& tags, const std::vector<std::string>& events,
                         const std::string& payload_id, const std::string& received) {
    std::string line = R"({"v":1,"received":")" + received + R"(","env":")" + env + R"(","sdk":")" +
                       sdk + R"(","kind":"analytics","schema":)" + std::to_string(schema);
    if (!tags.empty()) {
        line += R"(,"tags":")" + tags + "\"";
    }
    if (!payload_id.empty()) {
        line += R"(,"payloadId":")" + payload_id + "\"";
    }
    return line + R"(,"events":)" + as_array(events) + "}\n";
}

std::vector<std::string> fixture_bodies(const std::string& fixture, const std::string& path) {
    std::vector<std::string> bodies;
    std::ifstream in(fixture_path(fixture));
    REQUIRE(in.good());
    simdjson::dom::parser parser;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) {
            continue;
        }
        simdjson::dom::element record = parser.parse(line);
        if (std::string_view(record["method"]) != "POST" ||
            std::string_view(record["path"]) != path) {
            continue;
        }
        bodies.push_back(simdjson::minify(record["body"]));
    }
    return bodies;
}

} // namespace evrelay::test
