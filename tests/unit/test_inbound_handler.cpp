#include "tests/support/scratch_dir.hpp"
#include "tests/support/stalled_sync.hpp"

#include "core/inbound/inbound_handler.hpp"
#include "core/util/base64.hpp"
#include "core/util/gzip.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

using namespace evrelay;

namespace {

constexpr const char* k_sdk_key = "sdk-fixture-key-0123";
constexpr const char* k_mobile_key = "mob-fixture-key-4567";
constexpr const char* k_env_id = "fixture-client-side-id";

class RecordingSink : public PayloadSink {
  public:
    void submit(Payload payload) override {
        std::lock_guard lock(m_mutex);
        m_payloads.push_back(std::move(payload));
    }
    std::vector<Payload> take() {
        std::lock_guard lock(m_mutex);
        std::vector<Payload> result = std::move(m_payloads);
        m_payloads.clear();
        return result;
    }

  private:
    std::mutex m_mutex;
    std::vector<Payload> m_payloads;
};

Environment production() {
    Environment env;
    env.name = "production";
    env.sdk_key = k_sdk_key;
    env.mobile_key = k_mobile_key;
    env.env_id = k_env_id;
    return env;
}

// A real Dispatcher and Publishers in front of a recording sink: what the handler publishes is
// what a flush hands to the sender.
struct Fixture {
    explicit Fixture(InboundHandlerOptions options = {}, CaptureWriter* capture = nullptr,
                     std::vector<Environment> envs = {production()})
        : environments(std::move(envs)), budget(1u << 30),
          dispatcher(PublisherOptions{}, sink, budget, counters),
          handler(environments, dispatcher, counters, capture, std::move(options)) {}

    std::vector<Payload> flushed() {
        dispatcher.flush_all();
        return sink.take();
    }

    EnvironmentTable environments;
    RecordingSink sink;
    MemoryBudget budget;
    CounterRegistry counters;
    Dispatcher dispatcher;
    InboundHandler handler;
};

HttpRequest post(std::string target, std::string body,
                 std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpRequest request;
    request.method = "POST";
    request.target = std::move(target);
    request.body = std::move(body);
    request.headers = std::move(headers);
    return request;
}

std::string header_of(const HttpResponse& response, std::string_view name) {
    for (const auto& [key, value] : response.headers) {
        if (key == name) {
            return value;
        }
    }
    return {};
}

// One request of a fixture capture (tests/fixtures/*.ndjson), with its headers in their wire
// spelling and its body re-serialised compactly (and re-gzipped when it came gzipped).
struct FixtureRequest {
    HttpRequest request;
    std::string json; // the body as JSON, minified
};

std::vector<FixtureRequest> load_fixture(const std::string& name) {
    std::ifstream in(test::fixture_path(name));
    REQUIRE(in);
    std::vector<FixtureRequest> result;
    simdjson::dom::parser parser;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) {
            continue;
        }
        simdjson::dom::element doc = parser.parse(line);
        FixtureRequest item;
        item.request.method = std::string(std::string_view(doc["method"]));
        item.request.target = std::string(std::string_view(doc["path"]));
        simdjson::dom::object headers = doc["headers"];
        bool gzip = false;
        for (simdjson::dom::element raw : simdjson::dom::array(doc["rawHeaderNames"])) {
            const std::string original(std::string_view(raw).data(), std::string_view(raw).size());
            std::string lower = original;
            for (char& c : lower) {
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            }
            // Framing headers describe the original bytes, not the re-serialised body.
            if (lower == "content-length" || lower == "transfer-encoding" || lower == "host" ||
                lower == "connection") {
                continue;
            }
            std::string_view value;
            if (headers[lower].get(value) != simdjson::SUCCESS) {
                continue;
            }
            if (lower == "content-encoding" && value == "gzip") {
                gzip = true;
            }
            item.request.headers.emplace_back(original, std::string(value));
        }
        simdjson::dom::element body;
        if (doc["body"].get(body) == simdjson::SUCCESS && !body.is_null()) {
            item.json = simdjson::minify(body);
            if (gzip) {
                util::GzipCompressor compressor;
                compressor.compress(item.json, item.request.body);
            } else {
                item.request.body = item.json;
            }
        }
        result.push_back(std::move(item));
    }
    return result;
}

} // namespace

TEST_CASE("InboundHandler::handle accepts every real SDK post", "[inbound]") {
    const char* fixtures[] = {
        "v9-analytics-tags.ndjson",
        "v9-analytics-gzip.ndjson",
        "v9-diagnostic.ndjson",
        "legacy-analytics.ndjson",
        "legacy-diagnostic.ndjson",
        "browser-analytics.ndjson",
        "v9-diag-retry-503.ndjson",
        "legacy-diag-retry-503.ndjson",
        "v9-400.ndjson",
        "v9-401.ndjson",
        "v9-retry-503.ndjson",
        "browser-retry-503.ndjson",
    };
    for (const char* name : fixtures) {
        INFO(name);
        Fixture f;
        std::size_t expected_analytics_events = 0;
        std::vector<std::string> expected_diagnostics;
        std::map<std::string, std::size_t> expected_schema_tags; // "sdk/schema/tags" → events
        for (auto& item : load_fixture(name)) {
            INFO(item.request.method << " " << item.request.target);
            const bool options = item.request.method == "OPTIONS";
            const bool js = item.request.target.starts_with("/events/");
            const std::string origin(item.request.header("Origin"));
            const std::string schema(item.request.header("X-LaunchDarkly-Event-Schema"));
            const std::string tags(item.request.header("X-LaunchDarkly-Tags"));
            const std::string sdk = js ? "js" : "server";
            const std::string json = item.json;
            const HttpResponse response = f.handler.handle(std::move(item.request));
            INFO(response.body);
            if (options) {
                CHECK(response.status == 200);
            } else {
                CHECK(response.status == 202);
                CHECK(response.body.empty());
                if (json.front() == '[') {
                    simdjson::dom::parser parser;
                    const std::size_t n = simdjson::dom::array(parser.parse(json)).size();
                    expected_analytics_events += n;
                    expected_schema_tags[sdk + "/" + schema + "/" + tags] += n;
                } else {
                    expected_diagnostics.push_back(json);
                }
            }
            if (js) {
                CHECK(header_of(response, "Access-Control-Allow-Origin") == "*");
                CHECK(header_of(response, "Access-Control-Max-Age") == "300");
                CHECK(header_of(response, "Access-Control-Expose-Headers") == "Date");
                CHECK_FALSE(origin.empty());
            } else {
                CHECK(header_of(response, "Access-Control-Allow-Origin").empty());
            }
        }
        std::size_t analytics_events = 0;
        std::vector<std::string> diagnostics;
        std::map<std::string, std::size_t> schema_tags;
        for (const Payload& payload : f.flushed()) {
            CHECK(payload.env_name == "production");
            if (payload.data == DataKind::diagnostic) {
                diagnostics.push_back(payload.body);
                CHECK(payload.id.empty());
                continue;
            }
            simdjson::dom::parser parser;
            simdjson::dom::array events;
            REQUIRE(parser.parse(payload.body).get(events) == simdjson::SUCCESS);
            analytics_events += events.size();
            schema_tags[std::string(to_string(payload.sdk)) + "/" +
                        std::to_string(payload.metadata.schema_version) + "/" +
                        payload.metadata.tags] += events.size();
        }
        CHECK(analytics_events == expected_analytics_events);
        CHECK(schema_tags == expected_schema_tags);
        CHECK(diagnostics == expected_diagnostics);
        CHECK(f.handler.rejected_posts().empty());
    }
}

TEST_CASE("InboundHandler::handle forwards published events byte for byte", "[inbound]") {
    Fixture f;
    const auto items = load_fixture("v9-analytics-tags.ndjson");
    REQUIRE(items.size() == 1);
    const std::string json = items[0].json;
    HttpRequest request = items[0].request;
    REQUIRE(f.handler.handle(std::move(request)).status == 202);
    const auto payloads = f.flushed();
    REQUIRE(payloads.size() == 1);
    CHECK(payloads[0].body == json);
    CHECK(payloads[0].sdk == SdkKind::server);
    CHECK(payloads[0].metadata ==
          PayloadMetadata{4, "application-id/fixture-app application-version/1.0.0"});
    CHECK(f.counters.totals().received == payloads[0].event_count);
}

TEST_CASE("InboundHandler::handle passes diagnostic headers through", "[inbound]") {
    SECTION("v9 re-posts a failed diagnostic to /bulk: forwarded as a server diagnostic") {
        Fixture f;
        auto items = load_fixture("v9-diag-retry-503.ndjson");
        REQUIRE(items.size() == 3);
        REQUIRE(items[2].request.target == "/bulk");
        const std::string json = items[2].json;
        REQUIRE(json.front() == '{');
        REQUIRE(f.handler.handle(std::move(items[2].request)).status == 202);
        const auto payloads = f.sink.take(); // diagnostics are not batched: no flush needed
        REQUIRE(payloads.size() == 1);
        CHECK(payloads[0].data == DataKind::diagnostic);
        CHECK(payloads[0].sdk == SdkKind::server);
        CHECK(payloads[0].body == json);
        std::map<std::string, std::string> passed(payloads[0].passthrough_headers.begin(),
                                                  payloads[0].passthrough_headers.end());
        CHECK(passed["authorization"] == k_sdk_key);
        CHECK(passed["content-type"] == "application/json");
        CHECK(passed["user-agent"] == "NodeJSClient/9.13.7");
        CHECK(passed.count("x-launchdarkly-instance-id") == 1);
        CHECK(passed.size() == 4);
    }
    SECTION("mobile diagnostic") {
        Fixture f;
        auto response =
            f.handler.handle(post("/mobile/events/diagnostic", R"({"kind":"diagnostic"})",
                                  {{"Authorization", k_mobile_key},
                                   {"X-LaunchDarkly-Tags", "application-id/app"},
                                   {"Accept", "*/*"}}));
        CHECK(response.status == 202);
        const auto payloads = f.sink.take();
        REQUIRE(payloads.size() == 1);
        CHECK(payloads[0].sdk == SdkKind::mobile);
        CHECK(payloads[0].passthrough_headers.size() == 2);
    }
}

TEST_CASE("InboundHandler::handle answers browser preflights with CORS", "[inbound]") {
    Environment env = production();
    env.allowed_origins = {"http://127.0.0.1:42577"};
    env.allowed_headers = {"X-Custom"};
    Fixture f({}, nullptr, {env});
    for (auto& item : load_fixture("browser-analytics.ndjson")) {
        const bool options = item.request.method == "OPTIONS";
        const HttpResponse response = f.handler.handle(std::move(item.request));
        CHECK(response.status == (options ? 200 : 202));
        CHECK(header_of(response, "Access-Control-Allow-Origin") == "http://127.0.0.1:42577");
        CHECK(header_of(response, "Access-Control-Allow-Credentials") == "false");
        CHECK(header_of(response, "Access-Control-Allow-Headers").ends_with(",X-Custom"));
    }
    HttpRequest other;
    other.method = "OPTIONS";
    other.target = std::string("/events/bulk/") + k_env_id;
    other.headers = {{"Origin", "http://elsewhere.example"}};
    const HttpResponse response = f.handler.handle(std::move(other));
    CHECK(response.status == 200);
    CHECK(header_of(response, "Access-Control-Allow-Origin").empty());
}

TEST_CASE("InboundHandler::handle authenticates", "[inbound]") {
    Fixture f;
    const std::string body = R"([{"kind":"custom","key":"k"}])";
    struct Case {
        std::string authorization;
        int status;
    };
    const Case cases[] = {
        {k_sdk_key, 202},
        {std::string("api_key ") + k_sdk_key, 202},
        {"", 401},
        {"api_key ", 401},
        {"Bearer sdk-fixture-key-0123", 401},
        {"sdk-other-key-0000", 401},
        {k_mobile_key, 401}, // a mobile key is not an SDK key
    };
    for (const auto& c : cases) {
        INFO("'" << c.authorization << "'");
        std::vector<std::pair<std::string, std::string>> headers;
        if (!c.authorization.empty()) {
            headers.emplace_back("authorization", c.authorization);
        }
        const HttpResponse response = f.handler.handle(post("/bulk", body, headers));
        CHECK(response.status == c.status);
        if (c.status == 401) {
            CHECK(response.body.starts_with("{\"message\":\""));
            CHECK(header_of(response, "Content-Type") == "application/json");
            // The secret itself never appears in an answer.
            CHECK(response.body.find("other-key-0000") == std::string::npos);
        }
    }
    CHECK(f.handler.handle(post("/mobile", body, {{"Authorization", k_mobile_key}})).status == 202);
    CHECK(f.handler.rejected_posts() == std::map<int, std::uint64_t>{{401, 5}});

    SECTION("unknown envId is 404, with CORS") {
        const HttpResponse response = f.handler.handle(post("/events/bulk/nope-nope-nope", body));
        CHECK(response.status == 404);
        CHECK(header_of(response, "Access-Control-Allow-Origin") == "*");
    }
}

TEST_CASE("InboundHandler::handle rejects bad bodies with a reason", "[inbound]") {
    Fixture f;
    const std::vector<std::pair<std::string, std::string>> auth = {{"Authorization", k_sdk_key}};
    struct Case {
        const char* path;
        std::string body;
        int status;
        const char* message_part;
    };
    const Case cases[] = {
        {"/bulk", "", 400, "body may not be empty"},
        {"/bulk", "  \n", 400, "body may not be empty"},
        {"/bulk", "[{\"kind\":\"custom\"}", 400, "malformed analytics body"},
        {"/bulk", "[1,2]", 400, "element 0"},
        {"/bulk", "{\"kind\":\"custom\"}", 400, "JSON array"},
        {"/bulk", "\"text\"", 400, "JSON array"},
        {"/bulk", "[{\"kind\":\"custom\",\"key\":\"\xff\xfe\"}]", 400, "malformed analytics body"},
        {"/diagnostic", "[{\"kind\":\"diagnostic\"}]", 400, "one JSON object"},
        {"/diagnostic", "{\"kind\":", 400, "malformed diagnostic body"},
    };
    for (const auto& c : cases) {
        INFO(c.path << " " << c.body);
        const HttpResponse response = f.handler.handle(post(c.path, c.body, auth));
        CHECK(response.status == c.status);
        CHECK(response.body.find(c.message_part) != std::string::npos);
        CHECK(response.body.starts_with("{\"message\":"));
    }
    CHECK(f.flushed().empty());
    CHECK(f.counters.totals().received == 0);
    CHECK(f.handler.rejected_posts() == std::map<int, std::uint64_t>{{400, std::size(cases)}});
}

TEST_CASE("InboundHandler::handle decompresses gzip within --max-body", "[inbound]") {
    InboundHandlerOptions options;
    options.max_body_bytes = 1000;
    Fixture f(options);
    util::GzipCompressor compressor;
    const std::string small = R"([{"kind":"custom","key":"k"}])";
    std::string gz;
    compressor.compress(small, gz);
    CHECK(
        f.handler
            .handle(post("/bulk", gz, {{"Authorization", k_sdk_key}, {"Content-Encoding", "gzip"}}))
            .status == 202);

    // Compresses to far less than the limit, inflates beyond it: a gzip bomb is refused.
    const std::string big = "[{\"p\":\"" + std::string(5000, 'x') + "\"}]";
    compressor.compress(big, gz);
    REQUIRE(gz.size() < 1000);
    const HttpResponse bomb = f.handler.handle(
        post("/bulk", gz, {{"Authorization", k_sdk_key}, {"Content-Encoding", "gzip"}}));
    CHECK(bomb.status == 413);
    CHECK(f.handler.handle(post("/bulk", big, {{"Authorization", k_sdk_key}})).status == 413);
    const HttpResponse not_gzip = f.handler.handle(
        post("/bulk", small, {{"Authorization", k_sdk_key}, {"Content-Encoding", "gzip"}}));
    CHECK(not_gzip.status == 400);
    CHECK(not_gzip.body.find("gzip") != std::string::npos);
    CHECK(f.handler
              .handle(
                  post("/bulk", small, {{"Authorization", k_sdk_key}, {"Content-Encoding", "br"}}))
              .status == 400);
    const auto payloads = f.flushed();
    REQUIRE(payloads.size() == 1);
    CHECK(payloads[0].body == small);
}

TEST_CASE("InboundHandler::handle answers the image beacon with a GIF", "[inbound]") {
    Fixture f;
    const std::string events = R"([{"kind":"custom","key":"beacon"}])";
    std::string encoded = util::encode_base64(events);
    // As the browser SDK sends it: URL-safe alphabet, no padding.
    for (char& c : encoded) {
        c = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    while (encoded.back() == '=') {
        encoded.pop_back();
    }
    HttpRequest request;
    request.method = "GET";
    request.target = std::string("/a/") + k_env_id + ".gif?d=" + encoded;
    const HttpResponse response = f.handler.handle(std::move(request));
    CHECK(response.status == 200);
    CHECK(header_of(response, "Content-Type") == "image/gif");
    CHECK(response.body.starts_with("GIF89a"));
    CHECK(response.body.size() == 43);
    CHECK(header_of(response, "Access-Control-Allow-Origin") == "*");
    const auto payloads = f.flushed();
    REQUIRE(payloads.size() == 1);
    CHECK(payloads[0].sdk == SdkKind::js);
    CHECK(payloads[0].body == events);
    // SPEC §4: Relay labels the beacon's events schema 3 (it has no header of its own).
    CHECK(payloads[0].metadata.schema_version == 3);

    HttpRequest missing;
    missing.method = "GET";
    missing.target = std::string("/a/") + k_env_id + ".gif";
    CHECK(f.handler.handle(std::move(missing)).status == 400);
    HttpRequest garbage;
    garbage.method = "GET";
    garbage.target = std::string("/a/") + k_env_id + ".gif?d=!!!";
    CHECK(f.handler.handle(std::move(garbage)).status == 400);
}

TEST_CASE("InboundHandler::handle routes errors", "[inbound]") {
    Fixture f;
    const HttpResponse not_found = f.handler.handle(post("/nope", "[]"));
    CHECK(not_found.status == 404);
    CHECK(not_found.body.find("/nope") != std::string::npos);
    HttpRequest get;
    get.method = "GET";
    get.target = "/bulk";
    const HttpResponse wrong_method = f.handler.handle(std::move(get));
    CHECK(wrong_method.status == 405);
    CHECK(header_of(wrong_method, "Allow") == "POST");
}

TEST_CASE("InboundHandler::handle old schemas and unsummarized posts go out verbatim",
          "[inbound]") {
    Fixture f;
    const std::string body = R"([{"kind":"feature","key":"f","userKey":"u"}])";
    CHECK(f.handler.handle(post("/bulk", body, {{"Authorization", k_sdk_key}})).status == 202);
    CHECK(f.handler
              .handle(post("/bulk", body,
                           {{"Authorization", k_sdk_key},
                            {"X-LaunchDarkly-Event-Schema", "4"},
                            {"X-LaunchDarkly-Unsummarized", "true"}}))
              .status == 202);
    auto payloads = f.flushed();
    REQUIRE(payloads.size() == 2);
    std::set<int> schemas;
    for (const auto& payload : payloads) {
        schemas.insert(payload.metadata.schema_version);
        CHECK(payload.body == body);
    }
    CHECK(schemas == std::set<int>{1, 4});
}

TEST_CASE("InboundHandler::handle --no-forward and --offline", "[inbound]") {
    test::ScratchDir dir;
    const std::string body = R"([{"kind":"custom","key":"k"}])";
    SECTION("no-forward: answered, captured and counted, nothing published") {
        auto capture = CaptureWriter::open((dir.path() / "capture.ndjson").string());
        REQUIRE(capture);
        InboundHandlerOptions options;
        options.no_forward = true;
        Fixture f(options, capture->get());
        CHECK(f.handler.handle(post("/bulk", body, {{"Authorization", k_sdk_key}})).status == 202);
        CHECK(f.handler
                  .handle(post("/diagnostic", "{\"kind\":\"diagnostic\"}",
                               {{"Authorization", k_sdk_key}}))
                  .status == 202);
        CHECK(f.handler.handle(post("/bulk", body, {{"Authorization", "wrong-key"}})).status ==
              401);
        CHECK(f.flushed().empty());
        CHECK(f.counters.totals().received == 2);
        CHECK((*capture)->lines_written() == 2);
    }
    SECTION("offline: 202 to everything, nothing kept") {
        InboundHandlerOptions options;
        options.offline = true;
        Fixture f(options);
        CHECK(f.handler.handle(post("/bulk", "not json", {{"Authorization", "anything"}})).status ==
              202);
        CHECK(f.handler.handle(post("/events/bulk/unknown-env", "[]")).status == 202);
        CHECK(f.flushed().empty());
        CHECK(f.counters.totals().received == 0);
    }
}

TEST_CASE("InboundHandler::handle captures accepted posts without credentials", "[inbound]") {
    test::ScratchDir dir;
    const auto path = dir.path() / "capture.ndjson";
    auto capture = CaptureWriter::open(path.string());
    REQUIRE(capture);
    Fixture f({}, capture->get());
    const std::string body = R"([{"kind":"custom","key":"k"}])";
    CHECK(f.handler
              .handle(post("/bulk", body,
                           {{"Authorization", k_sdk_key},
                            {"X-LaunchDarkly-Event-Schema", "4"},
                            {"X-LaunchDarkly-Payload-ID", "1f9d6b12-4e86-4763-85e5-2ae1196a214b"}}))
              .status == 202);
    CHECK(f.handler.handle(post("/bulk", "[oops", {{"Authorization", k_sdk_key}})).status == 400);
    const std::string text = test::read_file(path);
    CHECK(std::count(text.begin(), text.end(), '\n') == 1);
    CHECK(text.find("\"env\":\"production\"") != std::string::npos);
    CHECK(text.find("\"sdk\":\"server\"") != std::string::npos);
    CHECK(text.find("\"schema\":4") != std::string::npos);
    CHECK(text.find("\"payloadId\":\"1f9d6b12-4e86-4763-85e5-2ae1196a214b\"") != std::string::npos);
    CHECK(text.find(body) != std::string::npos);
    CHECK(text.find("fixture-key") == std::string::npos);
}

TEST_CASE("InboundHandler: the metric prefix and disconnectedStatusTime reach the answers",
          "[inbound]") {
    InboundHandlerOptions options;
    options.metric_prefix = "relay";
    options.status.disconnected_status_time = std::chrono::milliseconds(1);
    options.runtime_status = [] {
        RuntimeStatus status;
        status.upstream_state = "failing";
        status.upstream_state_since = std::chrono::system_clock::now() - std::chrono::seconds(1);
        return status;
    };
    Fixture f(options);
    HttpRequest metrics_request;
    metrics_request.method = "GET";
    metrics_request.target = "/metrics";
    const auto metrics = f.handler.handle(std::move(metrics_request));
    CHECK(metrics.body.find("# TYPE relay_evrelay_in_flight_bytes gauge\n") != std::string::npos);
    HttpRequest status_request;
    status_request.method = "GET";
    status_request.target = "/status";
    const auto status = f.handler.handle(std::move(status_request));
    CHECK(status.body.find("\"status\":\"degraded\"") != std::string::npos);
}

TEST_CASE("InboundHandler::handle status, metrics, admin flush", "[inbound]") {
    std::atomic<int> flushes{0};
    InboundHandlerOptions options;
    options.flush = [&] { ++flushes; };
    options.runtime_status = [] {
        RuntimeStatus status;
        status.upstream_state = "ok";
        status.in_flight_bytes = 1234;
        return status;
    };
    Fixture f(options);
    const std::string body = R"([{"kind":"custom","key":"k"},{"kind":"custom","key":"l"}])";
    REQUIRE(f.handler.handle(post("/bulk", body, {{"Authorization", k_sdk_key}})).status == 202);
    REQUIRE(f.handler.handle(post("/bulk", "[", {{"Authorization", k_sdk_key}})).status == 400);

    HttpRequest status_request;
    status_request.method = "GET";
    status_request.target = "/status";
    const HttpResponse status = f.handler.handle(std::move(status_request));
    CHECK(status.status == 200);
    CHECK(header_of(status, "Content-Type") == "application/json");
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    REQUIRE(parser.parse(status.body).get(doc) == simdjson::SUCCESS);
    CHECK(std::string_view(doc["status"]) == "healthy");
    CHECK(std::string_view(doc["environments"]["production"]["status"]) == "connected");
    CHECK(std::string_view(doc["environments"]["production"]["sdkKey"]) == "sdk-****0123");
    CHECK(std::string_view(doc["environments"]["production"]["envId"]).find("****") !=
          std::string_view::npos);
    CHECK(std::string_view(doc["evrelay"]["upstream"]["state"]) == "ok");
    CHECK(std::uint64_t(doc["evrelay"]["queues"].at(0)["pending"]) == 2);
    CHECK(std::uint64_t(doc["evrelay"]["counters"]["eventsReceived"]) == 2);
    CHECK(std::uint64_t(doc["evrelay"]["counters"]["rejectedPosts"]["400"]) == 1);
    CHECK(status.body.find(k_sdk_key) == std::string::npos);

    HttpRequest metrics_request;
    metrics_request.method = "GET";
    metrics_request.target = "/metrics";
    const HttpResponse metrics = f.handler.handle(std::move(metrics_request));
    CHECK(metrics.status == 200);
    CHECK(header_of(metrics, "Content-Type").starts_with("text/plain; version=0.0.4"));
    CHECK(
        metrics.body.find("evrelay_events_received_total{env=\"production\",sdk=\"server\"} 2\n") !=
        std::string::npos);
    CHECK(metrics.body.find("evrelay_queue_events{env=\"production\",sdk=\"server\"} 2\n") !=
          std::string::npos);
    CHECK(metrics.body.find("evrelay_posts_rejected_total{status=\"400\"} 1\n") !=
          std::string::npos);
    CHECK(metrics.body.find("evrelay_in_flight_bytes 1234\n") != std::string::npos);
    CHECK(metrics.body.find("# TYPE evrelay_events_dropped_total counter") != std::string::npos);

    // The Prometheus port's handler: /metrics only.
    HttpRequest scrape;
    scrape.method = "GET";
    scrape.target = "/metrics?x=1";
    const HttpResponse scraped = f.handler.handle_metrics_only(std::move(scrape));
    CHECK(scraped.status == 200);
    CHECK(scraped.body == f.handler
                              .handle_metrics_only([] {
                                  HttpRequest again;
                                  again.method = "GET";
                                  again.target = "/metrics";
                                  return again;
                              }())
                              .body);
    for (const auto& [method, target, expected] :
         {std::tuple{"GET", "/status", 404}, std::tuple{"POST", "/bulk", 404},
          std::tuple{"POST", "/metrics", 405}}) {
        HttpRequest other;
        other.method = method;
        other.target = target;
        INFO(method << " " << target);
        CHECK(f.handler.handle_metrics_only(std::move(other)).status == expected);
    }

    HttpRequest remote = post("/admin/flush", "");
    remote.from_loopback = false;
    CHECK(f.handler.handle(std::move(remote)).status == 403);
    CHECK(flushes == 0);
    HttpRequest local = post("/admin/flush", "");
    local.from_loopback = true;
    CHECK(f.handler.handle(std::move(local)).status == 202);
    CHECK(flushes == 1);
}

namespace {

// Runs a deferred response's continuation and waits (bounded) for its answer.
std::optional<HttpResponse> answer_of(HttpResponse response) {
    if (!response.deferred) {
        return response;
    }
    auto promise = std::make_shared<std::promise<HttpResponse>>();
    std::future<HttpResponse> answer = promise->get_future();
    response.deferred([promise](HttpResponse given) { promise->set_value(std::move(given)); });
    if (answer.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
        return std::nullopt;
    }
    return answer.get();
}

SpoolDirectory open_spool(const test::ScratchDir& dir) {
    auto spool = SpoolDirectory::open(dir.path() / "spool");
    REQUIRE(spool);
    return *spool;
}

SpoolWriterOptions writer_options(bool durable) {
    SpoolWriterOptions options;
    options.durable = durable;
    return options;
}

InboundHandlerOptions spooling(SpoolWriter& writer) {
    InboundHandlerOptions options;
    options.no_forward = true;
    options.spool_posts = &writer;
    return options;
}

// A --no-forward handler that stores every post in a spool (durable or not).
struct SpoolingFixture {
    explicit SpoolingFixture(bool durable)
        : spool(open_spool(dir)), writer(spool, writer_options(durable)), f(spooling(writer)) {}

    test::ScratchDir dir;
    SpoolDirectory spool;
    SpoolWriter writer;
    Fixture f;
};

} // namespace

TEST_CASE("InboundHandler::handle stores posts in the spool", "[inbound][spool]") {
    const bool durable = GENERATE(false, true);
    CAPTURE(durable);
    SpoolingFixture spooling(durable);
    SpoolWriter& writer = spooling.writer;
    const SpoolDirectory* spool = &spooling.spool;
    Fixture& f = spooling.f;
    const std::string body = R"([{"kind":"custom","key":"k"},{"kind":"custom","key":"l"}])";

    HttpResponse response = f.handler.handle(
        post("/bulk", body,
             {{"Authorization", k_sdk_key},
              {"X-LaunchDarkly-Payload-ID", "1f9d6b12-4e86-4763-85e5-2ae1196a214b"}}));
    // Durable: answered once the group is synced, without holding the calling thread.
    CHECK(static_cast<bool>(response.deferred) == durable);
    CHECK(f.counters.totals().received == (durable ? 0 : 2)); // counted once stored
    const auto answer = answer_of(std::move(response));
    REQUIRE(answer);
    CHECK(answer->status == 202);
    CHECK(writer.lines_written() == 1);
    CHECK(f.counters.totals().received == 2);
    CHECK(f.counters.totals().spooled == 2);
    const auto diagnostic = answer_of(f.handler.handle(
        post("/diagnostic", R"({"kind":"diagnostic"})", {{"Authorization", k_sdk_key}})));
    REQUIRE(diagnostic);
    CHECK(diagnostic->status == 202);
    CHECK(f.handler.handle(post("/bulk", "[oops", {{"Authorization", k_sdk_key}})).status == 400);
    writer.close();
    std::string text;
    for (const auto& entry : std::filesystem::directory_iterator(spool->root())) {
        text += test::read_file(entry.path());
    }
    CHECK(std::count(text.begin(), text.end(), '\n') == 2);
    CHECK(text.find("\"payloadId\":\"1f9d6b12-4e86-4763-85e5-2ae1196a214b\"") != std::string::npos);
    CHECK(text.find(body) != std::string::npos);
    CHECK(f.flushed().empty());
}

TEST_CASE("InboundHandler: a post the SDK sends again is not stored twice", "[inbound][spool]") {
    const bool durable = GENERATE(false, true);
    CAPTURE(durable);
    SpoolingFixture spooling(durable);
    SpoolWriter& writer = spooling.writer;
    Fixture& f = spooling.f;
    const std::string body = R"([{"kind":"custom","key":"k"}])";
    auto send = [&](const std::string& id) {
        std::vector<std::pair<std::string, std::string>> headers{{"Authorization", k_sdk_key}};
        if (!id.empty()) {
            headers.emplace_back("X-LaunchDarkly-Payload-ID", id);
        }
        const auto answer = answer_of(f.handler.handle(post("/bulk", body, headers)));
        REQUIRE(answer);
        return answer->status;
    };
    CHECK(send("1f9d6b12-4e86-4763-85e5-2ae1196a214b") == 202);
    CHECK(send("1f9d6b12-4e86-4763-85e5-2ae1196a214b") == 202); // the retry: answered, not stored
    CHECK(writer.lines_written() == 1);
    CHECK(send("2f9d6b12-4e86-4763-85e5-2ae1196a214b") == 202);
    CHECK(send("") == 202); // no ID: a new one each time, never a repeat
    CHECK(send("") == 202);
    CHECK(writer.lines_written() == 4);
    CHECK(f.counters.totals().spooled == 4);
}

TEST_CASE("InboundHandler::handle sends schema 1-2 and Unsummarized posts to the summariser",
          "[inbound]") {
    struct Summarised {
        std::string env;
        SdkKind sdk;
        PayloadMetadata metadata;
        std::vector<std::string> events;
        std::vector<std::string> validated; // the validator's parts, as text
    };
    std::vector<Summarised> summarised;
    InboundHandlerOptions options;
    options.summarise =
        [&summarised](const std::string& env, SdkKind sdk, const PayloadMetadata& metadata,
                      const std::vector<std::string_view>& events, const JsonValidator* validated) {
            Summarised entry{env, sdk, metadata, {events.begin(), events.end()}, {}};
            if (validated != nullptr) {
                for (const JsonPart& part : validated->parts()) {
                    entry.validated.emplace_back(part.value);
                }
            }
            summarised.push_back(std::move(entry));
        };
    Fixture f(options);
    const std::string body = R"([{"kind":"feature","key":"f","user":{"key":"u"},"value":1}])";
    const std::string auth = k_sdk_key;
    SECTION("schema 2") {
        CHECK(f.handler
                  .handle(post("/bulk", body,
                               {{"Authorization", auth}, {"X-LaunchDarkly-Event-Schema", "2"}}))
                  .status == 202);
        REQUIRE(summarised.size() == 1);
        CHECK(summarised[0].metadata.schema_version == 2);
        CHECK_FALSE(summarised[0].metadata.unsummarized);
        // The post's own validation is handed on, its parts the events (not indexed again).
        CHECK(summarised[0].validated == summarised[0].events);
    }
    SECTION("no schema header: schema 1") {
        CHECK(f.handler.handle(post("/bulk", body, {{"Authorization", auth}})).status == 202);
        REQUIRE(summarised.size() == 1);
        CHECK(summarised[0].metadata.schema_version == 1);
    }
    SECTION("schema 4 with X-LaunchDarkly-Unsummarized: its presence counts, not its value") {
        CHECK(f.handler
                  .handle(post("/bulk", body,
                               {{"Authorization", auth},
                                {"X-LaunchDarkly-Event-Schema", "4"},
                                {"x-launchdarkly-unsummarized", ""}}))
                  .status == 202);
        REQUIRE(summarised.size() == 1);
        CHECK(summarised[0].metadata.schema_version == 4);
        CHECK(summarised[0].metadata.unsummarized);
        CHECK(summarised[0].events == std::vector<std::string>{body.substr(1, body.size() - 2)});
    }
    // Nothing of these posts reached the publisher as it came.
    CHECK(f.flushed().empty());

    SECTION("schema 3 and 4 without the mark go to the publisher as they are") {
        summarised.clear();
        CHECK(f.handler
                  .handle(post("/bulk", body,
                               {{"Authorization", auth}, {"X-LaunchDarkly-Event-Schema", "3"}}))
                  .status == 202);
        CHECK(summarised.empty());
        const auto payloads = f.flushed();
        REQUIRE(payloads.size() == 1);
        CHECK(payloads[0].metadata.schema_version == 3);
    }
}

namespace {

// A deferred answer not waited for: its future is ready once the handler answers.
std::future<HttpResponse> answer_later(HttpResponse response) {
    auto promise = std::make_shared<std::promise<HttpResponse>>();
    std::future<HttpResponse> answer = promise->get_future();
    REQUIRE(response.deferred);
    response.deferred([promise](HttpResponse given) { promise->set_value(std::move(given)); });
    return answer;
}

int status_within(std::future<HttpResponse>& answer, std::chrono::milliseconds within) {
    if (answer.wait_for(within) != std::future_status::ready) {
        return 0;
    }
    return answer.get().status;
}

// A durable --no-forward handler with --durable-timeout `timeout` on a disk whose fdatasync
// hangs until disk.release().
struct StalledDiskFixture {
    explicit StalledDiskFixture(std::chrono::milliseconds timeout)
        : spool(open_spool(dir)), writer(spool, options_for(disk)),
          f(with_timeout(spooling(writer), timeout)) {}

    static SpoolWriterOptions options_for(const test::StalledSync& disk) {
        SpoolWriterOptions options;
        options.durable = true;
        options.sync_data = disk.hook();
        return options;
    }
    static InboundHandlerOptions with_timeout(InboundHandlerOptions options,
                                              std::chrono::milliseconds timeout) {
        options.durable_timeout = timeout;
        return options;
    }
    HttpResponse send(const std::string& id) {
        return f.handler.handle(
            post("/bulk", R"([{"kind":"custom","key":"k"}])",
                 {{"Authorization", k_sdk_key}, {"X-LaunchDarkly-Payload-ID", id}}));
    }
    // The payload IDs of the lines on disk, once the writer is closed.
    std::vector<std::string> stored_ids() {
        writer.close();
        std::vector<std::string> ids;
        for (const auto& entry : std::filesystem::directory_iterator(spool.root())) {
            const std::string text = test::read_file(entry.path());
            for (std::size_t at = text.find("\"payloadId\":\""); at != std::string::npos;
                 at = text.find("\"payloadId\":\"", at + 1)) {
                const std::size_t begin = at + 13;
                ids.push_back(text.substr(begin, text.find('"', begin) - begin));
            }
        }
        return ids;
    }

    test::StalledSync disk;
    test::ScratchDir dir;
    SpoolDirectory spool;
    SpoolWriter writer;
    Fixture f;
};

constexpr const char* k_post_id = "4a1c2b3d-0000-4000-8000-000000000001";

} // namespace

TEST_CASE("InboundHandler --durable-timeout: a post not on disk in time is answered 503",
          "[inbound][spool]") {
    using namespace std::chrono_literals;
    StalledDiskFixture fixture(300ms);
    Fixture& f = fixture.f;
    const auto started = std::chrono::steady_clock::now();
    auto first = answer_later(fixture.send(k_post_id));
    REQUIRE(fixture.disk.wait_entered(1));
    REQUIRE(first.wait_for(10s) == std::future_status::ready);
    const HttpResponse refused = first.get();
    CHECK(std::chrono::steady_clock::now() - started >= 300ms);
    CHECK(refused.status == 503);
    CHECK(header_of(refused, "Retry-After") == "1");
    CHECK(refused.body.find("--durable-timeout") != std::string::npos);
    CHECK(f.counters.totals().received == 0); // not on disk yet

    SECTION("the line is still written; a retry after that is answered 202, not stored again") {
        fixture.disk.release();
        for (int i = 0; i < 500 && f.counters.totals().received == 0; ++i) {
            std::this_thread::sleep_for(10ms);
        }
        CHECK(f.counters.totals().received == 1); // counted once on disk
        const auto retry = answer_of(fixture.send(k_post_id));
        REQUIRE(retry);
        CHECK(retry->status == 202);
        CHECK(fixture.stored_ids() == std::vector<std::string>{k_post_id});
    }

    SECTION("a retry while the first copy still waits joins it: 202 once it is on disk") {
        auto retry = answer_later(fixture.send(k_post_id));
        CHECK(status_within(retry, 50ms) == 0); // waits for the first copy's sync
        fixture.disk.release();
        CHECK(status_within(retry, 10s) == 202);
        CHECK(fixture.stored_ids() == std::vector<std::string>{k_post_id});
        CHECK(f.counters.totals().received == 1);
    }

    SECTION("a retry whose own deadline passes too is answered 503; still one line") {
        auto retry = answer_later(fixture.send(k_post_id));
        CHECK(status_within(retry, 10s) == 503);
        fixture.disk.release();
        CHECK(fixture.stored_ids() == std::vector<std::string>{k_post_id});
    }

    SECTION("the first copy's write fails: the waiting retry gets 503, the next one stores it") {
        fixture.disk.fail_next();
        auto retry = answer_later(fixture.send(k_post_id));
        fixture.disk.release();
        CHECK(status_within(retry, 10s) == 503);
        CHECK(fixture.writer.write_errors() == 1);
        const auto stored = answer_of(fixture.send(k_post_id)); // the SDK's next attempt
        REQUIRE(stored);
        CHECK(stored->status == 202);
        CHECK(fixture.stored_ids() == std::vector<std::string>{k_post_id});
        CHECK(f.counters.totals().received == 1);
    }
}
