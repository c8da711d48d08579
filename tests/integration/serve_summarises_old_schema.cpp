// SPEC §4, §8: schema 1–2 posts (old PHP and very old SDKs) and schema-4 posts marked
// X-LaunchDarkly-Unsummarized leave serve as schema-4 summaries: index events for new contexts,
// summary counters per flag, full feature events for tracked flags, debug events while debugging
// is on, custom and identify events kept — never the old posts as they came.
#include "harness.hpp"
#include "serve_client.hpp"
#include "summarise_support.hpp"
#include "tests/support/scratch_dir.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <thread>

using namespace evrelay::test;

namespace {

constexpr const char* k_sdk_key = "sdk-summarise-test-0001";

ClientResponse post_bulk(std::uint16_t port, const std::vector<std::string>& events,
                         std::vector<std::pair<std::string, std::string>> headers) {
    headers.emplace_back("Authorization", k_sdk_key);
    return http_request(port, "POST", "/bulk", headers, as_array(events));
}

// The posts every test here sends: a PHP schema-2 post, a schema-1 post without variation, a
// schema-4 Unsummarized post with a context of kind org.
void post_old_schema_traffic(std::uint16_t port) {
    CHECK(post_bulk(port,
                    {php_feature("plain", "u1", "true", 0, 3, "false"),
                     php_feature("plain", "u1", "true", 0, 3, "false"),
                     php_feature("tracked", "u2", R"("green")", 1, 7, R"("red")"),
                     php_feature("debugged", "u1", "true", 1, 9, "false"),
                     php_feature("missing", "u1", R"("x")", 0, 4, R"("x")"),
                     php_custom("metric", "u2"), php_identify("u3")},
                    {{"X-LaunchDarkly-Event-Schema", "2"}})
              .status == 202);
    // Schema 1 (no header): no variation; it is found from the value.
    CHECK(post_bulk(port, {php_feature("tracked", "u3", R"("blue")", -1, 7, R"("red")")}, {})
              .status == 202);
    CHECK(post_bulk(port,
                    {R"({"kind":"feature","creationDate":1795736416405,"key":"plain",)"
                     R"("context":{"kind":"org","key":"o1","name":"Org"},"value":false,)"
                     R"("variation":1,"version":3,"default":false})"},
                    {{"X-LaunchDarkly-Event-Schema", "4"}, {"X-LaunchDarkly-Unsummarized", "true"}})
              .status == 202);
}

void check_summarised(const UpstreamOutput& out) {
    // Schema 4 only, no Unsummarized header, no inline users.
    CHECK(std::all_of(out.schemas.begin(), out.schemas.end(),
                      [](const std::string& s) { return s == "4"; }));
    CHECK(out.unsummarized_headers == 0);
    CHECK(out.events_with_user == 0);

    // One index event per new context; u3 was identified, which counts as seen.
    std::vector<std::string> indexed = out.index_keys;
    std::sort(indexed.begin(), indexed.end());
    CHECK(indexed == std::vector<std::string>{"o1", "u1", "u2"});

    CHECK(out.counters.at("plain") ==
          std::vector<SummaryCounter>{{"true", 0, 3, false, 2}, {"false", 1, 3, false, 1}});
    std::vector<std::string> plain_kinds = out.context_kinds.at("plain");
    std::sort(plain_kinds.begin(), plain_kinds.end());
    CHECK(plain_kinds == std::vector<std::string>{"org", "user"});
    CHECK(out.defaults.at("plain") == "false");
    // The schema-1 event got variation 2, the index of "blue".
    CHECK(out.counters.at("tracked") == std::vector<SummaryCounter>{{R"("green")", 1, 7, false, 1},
                                                                    {R"("blue")", 2, 7, false, 1}});
    // A flag absent from the flag data counts under unknown.
    CHECK(out.counters.at("missing") == std::vector<SummaryCounter>{{R"("x")", -1, -1, true, 1}});

    // trackEvents: a full feature event for each evaluation of "tracked"; debugging is on for
    // "debugged" for an hour.
    CHECK(out.feature_keys == std::vector<std::string>{"tracked", "tracked"});
    CHECK(out.debug_keys == std::vector<std::string>{"debugged"});
    CHECK(std::count(out.kinds.begin(), out.kinds.end(), "custom") == 1);
    CHECK(std::count(out.kinds.begin(), out.kinds.end(), "identify") == 1);
}

} // namespace

TEST_CASE("serve summarises schema 1-2 and Unsummarized posts into schema 4", "[serve][summary]") {
    ScratchDir scratch;
    const auto flags = scratch.write("flags.json", summarise_flag_data());
    RecordingUpstream upstream;
    ServeProcess serve({"--sdk-key", k_sdk_key, "--events-uri", upstream.url(), "--flags",
                        flags.string(), "--flush-interval", "1h"});
    ServeGuard guard(serve);

    post_old_schema_traffic(serve.port());
    serve.process().send_signal(SIGUSR1);
    REQUIRE(upstream.wait_for_requests(1, std::chrono::seconds(10)));

    // /status and /metrics say what was summarised and which flag data was used.
    const ClientResponse status = http_request(serve.port(), "GET", "/status");
    INFO(status.body);
    CHECK(status.body.find(R"("summarisation":{"default":{"inputEvents":9,"summaryEvents":1,)") !=
          std::string::npos);
    CHECK(status.body.find(R"("flagData":{"source":"file )" + flags.string() +
                           R"(","loaded":true,"flags":4,"ageSeconds":)") != std::string::npos);
    const ClientResponse metrics = http_request(serve.port(), "GET", "/metrics");
    CHECK(metrics.body.find("evrelay_summarised_input_events_total{env=\"default\"} 9\n") !=
          std::string::npos);
    CHECK(metrics.body.find("evrelay_feature_events_total{env=\"default\"} 2\n") !=
          std::string::npos);
    CHECK(metrics.body.find("evrelay_flag_data_age_seconds{env=\"default\",source=\"file ") !=
          std::string::npos);
    REQUIRE(guard.stop() == 0);
    INFO(serve.process().stderr_text());
    const UpstreamOutput out = read_upstream_output(upstream.requests());
    CHECK(out.summaries == 1);
    check_summarised(out);
}

TEST_CASE("serve summarises after the upstream's Date: debugging ends by the later clock",
          "[serve][summary]") {
    ScratchDir scratch;
    // Debugging until 10 minutes from now, but the upstream's clock is an hour ahead.
    const auto flags = scratch.write("flags.json", summarise_flag_data(600'000));
    RecordingUpstream upstream;
    upstream.set_date_offset(std::chrono::hours(1));
    ServeProcess serve({"--sdk-key", k_sdk_key, "--events-uri", upstream.url(), "--flags",
                        flags.string(), "--flush-interval", "1h"});
    ServeGuard guard(serve);
    // A first delivery tells serve the upstream's Date.
    CHECK(post_bulk(serve.port(), {R"({"kind":"custom","key":"warm-up","context":{"key":"w"}})"},
                    {{"X-LaunchDarkly-Event-Schema", "4"}})
              .status == 202);
    serve.process().send_signal(SIGUSR1);
    REQUIRE(upstream.wait_for_requests(1, std::chrono::seconds(10)));
    // The answer (and its Date) has reached serve once /status says the upstream took it.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (http_request(serve.port(), "GET", "/status").body.find(R"("state":"ok")") ==
               std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    upstream.clear();

    CHECK(post_bulk(serve.port(), {php_feature("debugged", "u1", "true", 1, 9, "false")},
                    {{"X-LaunchDarkly-Event-Schema", "2"}})
              .status == 202);
    serve.process().send_signal(SIGUSR1);
    REQUIRE(upstream.wait_for_requests(1, std::chrono::seconds(10)));
    REQUIRE(guard.stop() == 0);
    const UpstreamOutput out = read_upstream_output(upstream.requests());
    CHECK(out.debug_keys.empty());
    CHECK(out.counters.at("debugged") == std::vector<SummaryCounter>{{"true", 1, 9, false, 1}});
}

TEST_CASE("serve --flags: a bad file is a configuration error (78) naming it", "[serve][summary]") {
    ScratchDir scratch;
    const auto flags = scratch.write("flags.json", R"({"flags":{"a":{"version":"three"}}})");
    const RunResult result = run_evrelay({"serve", "--bind", "127.0.0.1", "--port", "0",
                                          "--sdk-key", k_sdk_key, "--flags", flags.string()},
                                         std::nullopt, std::chrono::seconds(20));
    CHECK(result.status == 78);
    CHECK(result.err.find(flags.string()) != std::string::npos);
}
