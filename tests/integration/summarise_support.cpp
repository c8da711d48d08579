#include "summarise_support.hpp"

#include "harness.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <tuple>

namespace evrelay::test {

std::string summarise_flag_data(std::int64_t debug_for_ms) {
    const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
    return R"({"flags":{)"
           R"("plain":{"key":"plain","version":3,"on":true,"variations":[true,false]},)"
           R"("tracked":{"key":"tracked","version":7,"variations":["red","green","blue"],)"
           R"("trackEvents":true},)"
           R"("debugged":{"key":"debugged","version":9,"variations":[false,true],)"
           R"("debugEventsUntilDate":)" +
           std::to_string(now_ms + debug_for_ms) +
           R"(},)"
           R"("fallthrough":{"key":"fallthrough","version":5,"variations":[1,2],)"
           R"("trackEventsFallthrough":true,"rules":[]})"
           R"(},"segments":{}})";
}

std::string php_feature(const std::string& flag, const std::string& user_key,
                        const std::string& value, int variation, int version,
                        const std::string& default_value, const std::string& extra) {
    std::string event = R"({"kind":"feature","creationDate":1795736416401,"key":")" + flag +
                        R"(","user":{"key":")" + user_key +
                        R"(","name":"PHP user","custom":{"plan":"gold"}},"value":)" + value;
    if (variation >= 0) {
        event += R"(,"variation":)" + std::to_string(variation);
    }
    if (version >= 0) {
        event += R"(,"version":)" + std::to_string(version);
    }
    event += R"(,"default":)" + default_value + extra + "}";
    return event;
}

std::string php_custom(const std::string& metric, const std::string& user_key) {
    return R"({"kind":"custom","creationDate":1795736416402,"key":")" + metric +
           R"(","user":{"key":")" + user_key + R"("},"data":{"n":1}})";
}

std::string php_identify(const std::string& user_key) {
    return R"({"kind":"identify","creationDate":1795736416403,"key":")" + user_key +
           R"(","user":{"key":")" + user_key + R"(","name":"Identified"}})";
}

std::string old_schema_capture() {
    std::string capture =
        capture_line("default", "server", 2, "",
                     {php_feature("plain", "u1", "true", 0, 3, "false"),
                      php_feature("tracked", "u2", R"("green")", 1, 7, R"("red")")},
                     "11111111-1111-4111-8111-111111111111");
    std::string unsummarized = capture_line(
        "default", "server", 4, "",
        {R"({"kind":"feature","creationDate":1795736416405,"key":"plain",)"
         R"("context":{"kind":"org","key":"o1"},"value":false,"variation":1,"version":3,)"
         R"("default":false})"},
        "22222222-2222-4222-8222-222222222222");
    // The mark, as serve's capture writes it: after the schema (and tags).
    unsummarized.insert(unsummarized.find(",\"payloadId\""), R"(,"unsummarized":true)");
    capture += unsummarized;
    capture += capture_line("default", "server", 4, "",
                            {R"({"kind":"custom","key":"as-is","context":{"key":"u9"}})"},
                            "33333333-3333-4333-8333-333333333333");
    return capture;
}

namespace {

std::string context_key_of(simdjson::dom::element context) {
    std::string_view key;
    if (context["key"].get(key) == simdjson::SUCCESS) {
        return std::string(key);
    }
    return {};
}

} // namespace

UpstreamOutput read_upstream_output(const std::vector<RecordedRequest>& requests) {
    UpstreamOutput output;
    simdjson::dom::parser parser;
    for (const RecordedRequest& request : requests) {
        if (request.target.find("diagnostic") != std::string::npos || request.method != "POST") {
            continue;
        }
        output.schemas.push_back(request.header("x-launchdarkly-event-schema"));
        if (request.headers.count("x-launchdarkly-unsummarized") != 0) {
            ++output.unsummarized_headers;
        }
        simdjson::dom::element body;
        REQUIRE(parser.parse(request.body).get(body) == simdjson::SUCCESS);
        for (simdjson::dom::element event : body.get_array()) {
            const std::string kind{std::string_view(event["kind"])};
            output.kinds.push_back(kind);
            simdjson::dom::element user;
            if (event["user"].get(user) == simdjson::SUCCESS) {
                ++output.events_with_user;
            }
            if (kind == "index") {
                output.index_keys.push_back(context_key_of(event["context"]));
            } else if (kind == "feature") {
                output.feature_keys.emplace_back(std::string_view(event["key"]));
            } else if (kind == "debug") {
                output.debug_keys.emplace_back(std::string_view(event["key"]));
            } else if (kind == "summary") {
                ++output.summaries;
                for (auto [flag, feature] : event["features"].get_object()) {
                    const std::string name{flag};
                    output.defaults[name] = simdjson::minify(feature["default"]);
                    simdjson::dom::array kinds;
                    if (feature["contextKinds"].get(kinds) == simdjson::SUCCESS) {
                        for (simdjson::dom::element k : kinds) {
                            auto& list = output.context_kinds[name];
                            const std::string text{std::string_view(k)};
                            if (std::find(list.begin(), list.end(), text) == list.end()) {
                                list.push_back(text);
                            }
                        }
                    }
                    for (simdjson::dom::element c : feature["counters"].get_array()) {
                        SummaryCounter counter;
                        counter.value = simdjson::minify(c["value"]);
                        std::int64_t number = 0;
                        if (c["variation"].get(number) == simdjson::SUCCESS) {
                            counter.variation = number;
                        }
                        if (c["version"].get(number) == simdjson::SUCCESS) {
                            counter.version = number;
                        }
                        bool unknown = false;
                        if (c["unknown"].get(unknown) == simdjson::SUCCESS) {
                            counter.unknown = unknown;
                        }
                        counter.count = std::int64_t(c["count"]);
                        // Summaries of several flushes add up.
                        auto& list = output.counters[name];
                        auto same = std::find_if(list.begin(), list.end(), [&](const auto& o) {
                            return o.value == counter.value && o.variation == counter.variation &&
                                   o.version == counter.version && o.unknown == counter.unknown;
                        });
                        if (same != list.end()) {
                            same->count += counter.count;
                        } else {
                            list.push_back(counter);
                        }
                    }
                }
            }
        }
    }
    // Requests may reach the upstream in any order (concurrent transfers): the merged counters
    // are sorted so that a test's expectation does not depend on it.
    for (auto& [name, list] : output.counters) {
        std::sort(list.begin(), list.end(), [](const SummaryCounter& a, const SummaryCounter& b) {
            return std::tie(a.variation, a.version, a.unknown, a.value) <
                   std::tie(b.variation, b.version, b.unknown, b.value);
        });
    }
    return output;
}

} // namespace evrelay::test
