// GET /status in the Relay Proxy's shape, evrelay's figures under "evrelay" (SPEC §4).
#include "core/inbound/status_report.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <string>

using namespace evrelay;
using namespace std::chrono_literals;

namespace {

const auto k_now = std::chrono::system_clock::time_point(1'800'000'000'000ms);

std::vector<Environment> environments() {
    Environment production;
    production.name = "production";
    production.sdk_key = "sdk-aaaaaaaa-bbbb-cccc-dddd-eeeeeeee1234";
    production.mobile_key = "mob-aaaaaaaa-bbbb-cccc-dddd-eeeeeeee5678";
    production.env_id = "5e0000000000000000009abc";
    Environment staging;
    staging.name = "staging";
    staging.sdk_key = "sdk-ffffffff-0000-0000-0000-000000004321";
    return {production, staging};
}

std::string render(const RuntimeStatus& runtime, std::chrono::milliseconds grace = 60s) {
    CounterRegistry counters;
    counters.for_target("production", SdkKind::server).events_received.fetch_add(5);
    StatusReportOptions options;
    options.disconnected_status_time = grace;
    return render_status_json(environments(), counters, runtime, {{400, 2}}, options, k_now);
}

RuntimeStatus upstream(std::string state, std::chrono::milliseconds ago) {
    RuntimeStatus runtime;
    runtime.upstream_state = std::move(state);
    runtime.upstream_state_since = k_now - ago;
    return runtime;
}

} // namespace

TEST_CASE("render_status_json: Relay's members, masked keys, evrelay's figures apart",
          "[inbound]") {
    const std::string json = render(upstream("ok", 5s));
    INFO(json);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    REQUIRE(parser.parse(json).get(doc) == simdjson::SUCCESS);
    // Relay's top level: environments (an object keyed by name), status, version.
    CHECK(std::string_view(doc["status"]) == "healthy");
    CHECK(std::string_view(doc["version"]) == EVRELAY_VERSION);
    const auto production = doc["environments"]["production"];
    CHECK(std::string_view(production["sdkKey"]) == "sdk-****1234");
    CHECK(std::string_view(production["mobileKey"]) == "mob-****5678");
    CHECK(std::string_view(production["envId"]) == "****9abc");
    CHECK(std::string_view(production["status"]) == "connected");
    // What an environment lacks is left out, as Relay's omitempty members are.
    const auto staging = doc["environments"]["staging"];
    CHECK(std::string_view(staging["sdkKey"]) == "sdk-****4321");
    CHECK(staging["mobileKey"].error() == simdjson::NO_SUCH_FIELD);
    CHECK(staging["envId"].error() == simdjson::NO_SUCH_FIELD);
    // No secret in clear anywhere.
    CHECK(json.find("eeeeeeee1234") == std::string::npos);
    CHECK(json.find("5e0000000000000000009abc") == std::string::npos);
    // evrelay's own figures.
    const auto figures = doc["evrelay"];
    CHECK(std::string_view(figures["queues"].at(0)["env"]) == "production");
    CHECK(std::uint64_t(figures["queues"].at(0)["pending"]) == 5);
    CHECK(std::uint64_t(figures["counters"]["eventsReceived"]) == 5);
    CHECK(std::uint64_t(figures["counters"]["rejectedPosts"]["400"]) == 2);
    CHECK(std::string_view(figures["upstream"]["state"]) == "ok");
    CHECK(std::int64_t(figures["upstream"]["stateSince"]) == 1'800'000'000'000 - 5'000);
    // Nothing else at the top level than Relay's members and "evrelay".
    std::vector<std::string_view> members;
    for (const auto field : doc.get_object()) {
        members.push_back(field.key);
    }
    CHECK(members == std::vector<std::string_view>{"environments", "status", "version", "evrelay"});
}

TEST_CASE("render_status_json: disconnected once deliveries failed for disconnectedStatusTime",
          "[inbound]") {
    struct Case {
        std::string state;
        std::chrono::milliseconds ago;
        bool disconnected;
    };
    for (const auto& c :
         {Case{"unknown", 10min, false}, Case{"ok", 10min, false}, Case{"failing", 59s, false},
          Case{"failing", 60s, true}, Case{"rejected", 59s, false}, Case{"rejected", 2min, true}}) {
        INFO(c.state << " for " << c.ago.count() << " ms");
        const std::string json = render(upstream(c.state, c.ago), 60s);
        simdjson::dom::parser parser;
        simdjson::dom::element doc;
        REQUIRE(parser.parse(json).get(doc) == simdjson::SUCCESS);
        CHECK(std::string_view(doc["status"]) == (c.disconnected ? "degraded" : "healthy"));
        for (const auto* name : {"production", "staging"}) {
            CHECK(std::string_view(doc["environments"][name]["status"]) ==
                  (c.disconnected ? "disconnected" : "connected"));
        }
    }
    // The grace time is the option's, not a constant.
    CHECK(render(upstream("failing", 2s), 1s).find("\"degraded\"") != std::string::npos);
}
