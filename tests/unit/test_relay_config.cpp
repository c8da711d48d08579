#include "tests/support/scratch_dir.hpp"

#include "core/config/relay_config.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <unistd.h>

using namespace evrelay;
using namespace std::chrono_literals;

namespace {

RelayConfig parse_ok(std::string_view text) {
    auto result = parse_relay_config(text, "test.conf");
    if (!result) {
        FAIL("unexpected error: " << result.error().message);
    }
    return *result;
}

Error parse_error(std::string_view text) {
    auto result = parse_relay_config(text, "test.conf");
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == ErrorKind::config);
    return result.error();
}

const Environment& only_environment(const RelayConfig& config) {
    REQUIRE(config.environments.size() == 1);
    return config.environments.front();
}

// A fake process environment for relay_config_from_environment.
struct FakeEnv {
    std::map<std::string, std::string> vars;

    Result<RelayConfig> read() const {
        std::vector<std::string> names;
        for (const auto& [name, value] : vars) {
            names.push_back(name);
        }
        return relay_config_from_environment(
            names, [this](const std::string& name) -> std::optional<std::string> {
                const auto found = vars.find(name);
                if (found == vars.end()) {
                    return std::nullopt;
                }
                return found->second;
            });
    }
};

Error env_error(const FakeEnv& env) {
    auto result = env.read();
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == ErrorKind::config);
    return result.error();
}

} // namespace

TEST_CASE("parse_relay_config reads every key", "[config]") {
    const auto config = parse_ok(R"([Main]
port = 8031
tlsEnabled = true
tlsCert = /etc/ssl/relay.pem
tlsKey = /etc/ssl/relay.key
tlsMinVersion = 1.3
disconnectedStatusTime = 2m
[Events]
sendEvents = true
eventsUri = "https://events.example.com"
flushInterval = 1m30s
capacity = 250
inlineUsers = yes
[Environment "Production"]
sdkKey = "sdk-abc"
mobileKey = mob-def
envId = 5e1234
allowedOrigin = https://example.com
allowedOrigin = https://other.example.com
allowedHeader = X-Custom
[Proxy]
url = http://proxy:3128
user = u
password = p
domain = CORP
ntlmAuth = true
caCertFiles = /etc/ssl/a.pem,/etc/ssl/b.pem
[Prometheus]
enabled = true
port = 9100
prefix = relay
[OfflineMode]
fileDataSource = /var/lib/relay/archive.tar.gz
)");
    CHECK(config.port == 8031);
    CHECK(config.tls_enabled == true);
    CHECK(config.tls_cert == "/etc/ssl/relay.pem");
    CHECK(config.tls_key == "/etc/ssl/relay.key");
    CHECK(config.tls_min_version == TlsVersion::tls1_3);
    CHECK(config.disconnected_status_time == 2min);
    CHECK(config.prometheus_enabled == true);
    CHECK(config.prometheus_port == 9100);
    CHECK(config.prometheus_prefix == "relay");
    CHECK(config.offline_file_data_source == "/var/lib/relay/archive.tar.gz");
    CHECK(config.send_events == true);
    CHECK(config.events_uri == "https://events.example.com");
    CHECK(config.flush_interval == 90s);
    CHECK(config.capacity == 250u);
    // inlineUsers is read and ignored: named in a warning (ignored_settings).
    CHECK(config.ignored ==
          std::vector<IgnoredSetting>{{"[Events] inlineUsers", IgnoredBecause::inline_users}});
    CHECK(config.proxy_url == "http://proxy:3128");
    CHECK(config.proxy_user == "u");
    CHECK(config.proxy_password == "p");
    CHECK(config.proxy_domain == "CORP");
    CHECK(config.proxy_ntlm_auth == true);
    CHECK(config.ca_cert_files == std::vector<std::string>{"/etc/ssl/a.pem", "/etc/ssl/b.pem"});
    const auto& env = only_environment(config);
    CHECK(env.name == "Production");
    CHECK(env.sdk_key == "sdk-abc");
    CHECK(env.mobile_key == "mob-def");
    CHECK(env.env_id == "5e1234");
    CHECK(env.allowed_origins ==
          std::vector<std::string>{"https://example.com", "https://other.example.com"});
    CHECK(env.allowed_headers == std::vector<std::string>{"X-Custom"});
}

TEST_CASE("parse_relay_config leaves absent keys unset", "[config]") {
    const auto config = parse_ok("# nothing but a comment\n\n[Main]\n");
    CHECK_FALSE(config.port);
    CHECK_FALSE(config.send_events);
    CHECK_FALSE(config.events_uri);
    CHECK_FALSE(config.flush_interval);
    CHECK_FALSE(config.capacity);
    CHECK_FALSE(config.tls_enabled);
    CHECK_FALSE(config.prometheus_enabled);
    CHECK(config.ignored.empty());
    CHECK_FALSE(config.proxy_url);
    CHECK(config.ca_cert_files.empty());
    CHECK(config.environments.empty());
}

TEST_CASE("parse_relay_config ignores the case of section and key names", "[config]") {
    const auto config = parse_ok(R"([MAIN]
PORT = 9000
[events]
SENDEVENTS = false
FlushInterval = 500ms
[environment "Prod"]
SDKKEY = sdk-1
[Environment "prod"]
sdkkey = sdk-2
)");
    CHECK(config.port == 9000);
    CHECK(config.send_events == false);
    CHECK(config.flush_interval == 500ms);
    // Environment names are case-sensitive: two environments.
    REQUIRE(config.environments.size() == 2);
    CHECK(config.environments[0].name == "Prod");
    CHECK(config.environments[0].sdk_key == "sdk-1");
    CHECK(config.environments[1].name == "prod");
    CHECK(config.environments[1].sdk_key == "sdk-2");
}

TEST_CASE("parse_relay_config handles quoting, escapes and comments", "[config]") {
    const auto config =
        parse_ok("; a comment\n"
                 "   # an indented comment\n"
                 "[Main] ; comment after a header\n"
                 "port = 8030 # comment after a value\n"
                 "[Proxy]\n"
                 "url = \"http://proxy;3128#x\"   ; comment characters inside quotes are text\n"
                 "user =   spaced   out   \n"
                 "password = \"a \\\"quoted\\\" \\\\ back\\tslash\\n\"\n"
                 "[Environment \"With \\\"quotes\\\" and spaces\"]\n"
                 "sdkKey = pre\"  mid  \"post\n"
                 "\tmobileKey=mob-x\r\n"
                 "envId = \"\"\n");
    CHECK(config.port == 8030);
    CHECK(config.proxy_url == "http://proxy;3128#x");
    CHECK(config.proxy_user == "spaced   out"); // trimmed at both ends, inner blanks kept
    CHECK(config.proxy_password == "a \"quoted\" \\ back\tslash\n");
    const auto& env = only_environment(config);
    CHECK(env.name == "With \"quotes\" and spaces");
    CHECK(env.sdk_key == "pre  mid  post");
    CHECK(env.mobile_key == "mob-x"); // CRLF line ends are accepted
    CHECK(env.env_id.empty());
}

TEST_CASE("parse_relay_config joins lines ending with a backslash", "[config]") {
    const auto config = parse_ok("[Environment \"E\"]\nsdkKey = sdk-\\\nabc\nport = 1\n");
    CHECK(only_environment(config).sdk_key == "sdk-abc");
    // Line numbers stay right after a continuation.
    const auto error = parse_error("[Main]\nport = \\\n1\nport = x\n");
    CHECK(error.message.rfind("test.conf:4: ", 0) == 0);
}

TEST_CASE("parse_relay_config reads booleans", "[config]") {
    const std::vector<std::pair<std::string, bool>> cases = {
        {"true", true}, {"TRUE", true},   {"yes", true},    {"On", true},
        {"1", true},    {"false", false}, {"False", false}, {"no", false},
        {"OFF", false}, {"0", false},     {"", false},
    };
    for (const auto& [text, expected] : cases) {
        INFO("value: \"" << text << "\"");
        const auto config = parse_ok("[Events]\nsendEvents = " + text + "\n");
        CHECK(config.send_events == expected);
    }
    SECTION("a key without \"=\" means true") {
        const auto config = parse_ok("[Events]\nsendEvents\n[Main]\ntlsEnabled ; comment\n");
        CHECK(config.send_events == true);
        CHECK(config.tls_enabled == true);
    }
}

TEST_CASE("parse_relay_config accumulates repeated and comma-separated lists", "[config]") {
    const auto config = parse_ok(R"([Environment "E"]
envId = abc
allowedOrigin = https://a.example, https://b.example ,
allowedOrigin = https://c.example
allowedHeader = X-One,X-Two
allowedHeader = X-Three
[Proxy]
caCertFiles = /a.pem
caCertFiles = /b.pem, /c.pem
)");
    const auto& env = only_environment(config);
    CHECK(env.allowed_origins ==
          std::vector<std::string>{"https://a.example", "https://b.example", "https://c.example"});
    CHECK(env.allowed_headers == std::vector<std::string>{"X-One", "X-Two", "X-Three"});
    CHECK(config.ca_cert_files == std::vector<std::string>{"/a.pem", "/b.pem", "/c.pem"});
}

TEST_CASE("parse_relay_config: a list key without \"=\" empties the list", "[config]") {
    const auto config = parse_ok(R"([Environment "E"]
envId = abc
allowedOrigin = https://a.example
allowedOrigin
allowedOrigin = https://b.example
)");
    CHECK(only_environment(config).allowed_origins ==
          std::vector<std::string>{"https://b.example"});
}

TEST_CASE("parse_relay_config: later values win and sections may repeat", "[config]") {
    const auto config = parse_ok(R"([Main]
port = 1
[Environment "E"]
sdkKey = sdk-old
[Main]
port = 2
[Environment "E"]
sdkKey = sdk-new
mobileKey = mob-1
)");
    CHECK(config.port == 2);
    const auto& env = only_environment(config);
    CHECK(env.sdk_key == "sdk-new");
    CHECK(env.mobile_key == "mob-1");
}

TEST_CASE("parse_relay_config: an empty string value unsets an optional", "[config]") {
    const auto config = parse_ok("[Events]\neventsUri = \"\"\n");
    CHECK_FALSE(config.events_uri);
}

TEST_CASE("parse_relay_config records ignored and unknown sections and keys", "[config]") {
    const auto config = parse_ok(R"([Main]
port = 8030
exitOnError = true
exitAlways = false
prot = 8031
[Redis]
host = localhost
anything = "goes ; here"
host = again
[Environment "E"]
sdkKey = sdk-1
prefix = ld-flags
secureMode
[Events]
capacity = 5
[OpenCensus]
enabled = true
[Prometheus]
enabled = true
scrapeInterval = 5s
[Nonsense "x"]
key = value
)");
    CHECK(config.port == 8030);
    CHECK(config.capacity == 5u);
    CHECK(only_environment(config).sdk_key == "sdk-1");
    // Named as given, once each; a key a wholly ignored section does not list takes the
    // section's reason; false asks for nothing.
    const std::vector<IgnoredSetting> expected = {
        {"[Main] exitOnError", IgnoredBecause::exit_on_error},
        {"[Main] prot", IgnoredBecause::unknown},
        {"[Redis] host", IgnoredBecause::data_store},
        {"[Redis] anything", IgnoredBecause::data_store},
        {"[Environment \"E\"] prefix", IgnoredBecause::data_store},
        {"[Environment \"E\"] secureMode", IgnoredBecause::flag_delivery},
        {"[OpenCensus] enabled", IgnoredBecause::exporter},
        {"[Prometheus] scrapeInterval", IgnoredBecause::unknown},
        {"[Nonsense \"x\"]", IgnoredBecause::unknown},
    };
    CHECK(config.ignored == expected);
}

TEST_CASE("parse_relay_config keeps environments in file order", "[config]") {
    const auto config = parse_ok(R"([Environment "zeta"]
sdkKey = sdk-z
[Environment "alpha"]
sdkKey = sdk-a
[Environment "my-env_2"]
envId = id-2
)");
    REQUIRE(config.environments.size() == 3);
    CHECK(config.environments[0].name == "zeta");
    CHECK(config.environments[1].name == "alpha");
    CHECK(config.environments[2].name == "my-env_2");
}

TEST_CASE("parse_relay_config reports errors with file and line", "[config]") {
    struct Case {
        std::string text;
        std::string prefix;   // "test.conf:LINE: "
        std::string contains; // part of the explanation
    };
    const std::vector<Case> cases = {
        {"[Main]\n[Events\nsendEvents = true\n", "test.conf:2: ", "unterminated section header"},
        {"[Main]\n\n[Environment \"Prod]\n", "test.conf:3: ", "unterminated quote"},
        {"[Main]\n[Proxy]\nurl = \"http://x\n", "test.conf:3: ", "unterminated quote"},
        {"[Main]\nport = 80\n= 5\n", "test.conf:3: ", "expected a [section], a key or a comment"},
        {"[Main]\nport 80\n", "test.conf:2: ", "expected \"=\""},
        {"[]\n", "test.conf:1: ", "no name"},
        {"[Main] x\n", "test.conf:1: ", "unexpected text after section header"},
        {"port = 80\n", "test.conf:1: ", "outside any [section]"},
        {"[Events]\n\nsendEvents = maybe\n", "test.conf:3: ", "is not a boolean"},
        {"[Main]\ntlsEnabled = 2\n", "test.conf:2: ", "[Main] tlsEnabled: \"2\" is not a boolean"},
        {"[Main]\ntlsMinVersion = 1.4\n", "test.conf:2: ", "is not a TLS version"},
        {"[Main]\ndisconnectedStatusTime = 0s\n", "test.conf:2: ", "longer than zero"},
        {"[Prometheus]\nprefix = 9lives\n", "test.conf:2: ", "cannot start a Prometheus metric"},
        {"[Prometheus]\nprefix = my-relay\n", "test.conf:2: ", "cannot start a Prometheus"},
        {"[Prometheus]\nport = 99999\n", "test.conf:2: ", "is not a port number"},
        {"[Main]\nport = eighty\n", "test.conf:2: ", "is not a port number"},
        {"[Main]\nport = 70000\n", "test.conf:2: ", "is not a port number"},
        {"[Main]\nport = -1\n", "test.conf:2: ", "is not a port number"},
        {"[Main]\nport\n", "test.conf:2: ", "needs a value"},
        {"[Events]\ncapacity = 10k\n", "test.conf:2: ", "is not a positive whole number"},
        {"[Events]\ncapacity = 0\n", "test.conf:2: ", "is not a positive whole number"},
        {"[Events]\nflushInterval = soon\n", "test.conf:2: ", "is not a duration"},
        {"[Events]\nflushInterval = 0s\n", "test.conf:2: ", "longer than zero"},
        {"[Environment]\nsdkKey = x\n", "test.conf:1: ", "needs a name"},
        {"[Main \"x\"]\n", "test.conf:1: ", "takes no name"},
        {"[Proxy]\nurl = a\\qb\n", "test.conf:2: ", "unknown escape"},
        {"[Main]\n\n[Environment \"Empty\"]\n; no keys\n[Events]\n",
         "test.conf:3: ", "environment \"Empty\" has no credentials"},
        {"[Environment \"Blank\"]\nsdkKey = \"\"\n",
         "test.conf:1: ", "environment \"Blank\" has no credentials"},
    };
    for (const auto& c : cases) {
        INFO("config text:\n" << c.text);
        const auto error = parse_error(c.text);
        CHECK(error.message.rfind(c.prefix, 0) == 0);
        CHECK_THAT(error.message, Catch::Contains(c.contains));
    }
}

// Found by tests/fuzz/fuzz_relay_config: a credential or CORS value holding a control character
// (written as an escape such as "\n", or as a raw byte) was accepted, and would have ended the
// Authorization header, or a CORS answer's header, early.
TEST_CASE("parse_relay_config refuses control characters in credentials and CORS values",
          "[config]") {
    struct Case {
        std::string text;
        std::string prefix;
    };
    const std::vector<Case> cases = {
        {"[Environment \"P\"]\nsdkKey = \"sdk-1\\nX-Injected: 1\"\n", "test.conf:2: "},
        {"[Environment \"P\"]\nsdkKey = sdk-1\nmobileKey = \"mob\\t1\"\n", "test.conf:3: "},
        {"[Environment \"P\"]\nenvId = abc\x7f\n", "test.conf:2: "},
        {"[Environment \"P\"]\nsdkKey = k\nallowedOrigin = https://a.example\x01\n",
         "test.conf:3: "},
        {"[Environment \"P\"]\nsdkKey = k\nallowedHeader = \"X-A\\nX-B\"\n", "test.conf:3: "},
    };
    for (const auto& c : cases) {
        INFO("config text:\n" << c.text);
        const auto error = parse_error(c.text);
        CHECK(error.message.rfind(c.prefix, 0) == 0);
        CHECK_THAT(error.message, Catch::Contains("control character"));
        CHECK_THAT(error.message, !Catch::Contains("sdk-1")); // a credential is not shown
    }
    // Values that are not sent in headers keep what their escapes say.
    const auto config = parse_ok("[Proxy]\npassword = \"a\\tb\\n\"\n");
    CHECK(config.proxy_password == "a\tb\n");
}

TEST_CASE("relay_config_from_environment refuses control characters in credentials and CORS "
          "values",
          "[config]") {
    for (const std::string name : {"LD_ENV_P", "LD_MOBILE_KEY_P", "LD_CLIENT_SIDE_ID_P",
                                   "LD_ALLOWED_ORIGIN_P", "LD_ALLOWED_HEADER_P"}) {
        INFO(name);
        FakeEnv env;
        env.vars = {{"LD_ENV_Q", "sdk-ok"}, {name, "value\r\nX-Injected: 1"}};
        const auto error = env_error(env);
        CHECK(error.message.rfind(name + ": ", 0) == 0);
        CHECK_THAT(error.message, Catch::Contains("control character 0x0d"));
    }
}

TEST_CASE("read_relay_config_file reads a file and names it in errors", "[config]") {
    const test::ScratchDir dir;
    const auto good = dir.write("good.conf", "[Main]\nport = 1234\n");
    const auto bad = dir.write("bad.conf", "[Main]\nport = 1234\n[Events\n");

    const auto config = read_relay_config_file(good.string());
    REQUIRE(config);
    CHECK(config->port == 1234);

    const auto error = read_relay_config_file(bad.string());
    REQUIRE_FALSE(error);
    CHECK(error.error().kind == ErrorKind::config);
    CHECK(error.error().message.rfind(bad.string() + ":3: ", 0) == 0);

    const auto missing = read_relay_config_file((dir / "missing.conf").string());
    REQUIRE_FALSE(missing);
    CHECK(missing.error().kind == ErrorKind::io);
    CHECK_THAT(missing.error().message, Catch::Contains("missing.conf"));
}

TEST_CASE("read_relay_config_file parses examples/relay.conf", "[config]") {
    const auto config =
        read_relay_config_file(std::string(EVRELAY_SOURCE_DIR) + "/examples/relay.conf");
    if (!config) {
        FAIL(config.error().message);
    }
    CHECK(config->port == 8030);
    CHECK(config->send_events == true);
    CHECK(config->events_uri == "https://events.launchdarkly.com");
    CHECK(config->flush_interval == 5s);
    CHECK(config->capacity == 1000u);
    CHECK(config->ignored.empty()); // inlineUsers = false asks for nothing
    CHECK_FALSE(config->proxy_url); // commented out in the example
    REQUIRE(config->environments.size() == 2);
    const auto& production = config->environments[0];
    CHECK(production.name == "Production");
    CHECK_FALSE(production.sdk_key.empty());
    CHECK_FALSE(production.mobile_key.empty());
    CHECK_FALSE(production.env_id.empty());
    CHECK(production.allowed_origins.size() == 2);
    CHECK(production.allowed_headers == std::vector<std::string>{"X-Custom"});
    const auto& staging = config->environments[1];
    CHECK(staging.name == "Staging");
    CHECK(staging.sdk_key.rfind("sdk-", 0) == 0);
    CHECK(staging.allowed_origins ==
          std::vector<std::string>{"https://staging.example.com", "https://preview.example.com"});
}

TEST_CASE("relay_config_from_environment reads Relay's variables", "[config]") {
    FakeEnv env;
    env.vars = {
        {"PORT", "9090"},
        {"USE_EVENTS", "true"},
        {"EVENTS_HOST", "https://events.example.com"},
        {"EVENTS_FLUSH_INTERVAL", "2s"},
        {"EVENTS_CAPACITY", "77"},
        {"EVENTS_INLINE_USERS", "1"},
        {"TLS_ENABLED", "true"},
        {"TLS_CERT", "/c.pem"},
        {"TLS_KEY", "/k.pem"},
        {"TLS_MIN_VERSION", "1.2"},
        {"DISCONNECTED_STATUS_TIME", "30s"},
        {"USE_PROMETHEUS", "1"},
        {"PROMETHEUS_PORT", "9101"},
        {"PROMETHEUS_PREFIX", "ld"},
        {"FILE_DATA_SOURCE", "/archive.tar.gz"},
        {"PROXY_URL", "http://proxy:3128"},
        {"PROXY_AUTH_USER", "pu"},
        {"PROXY_AUTH_PASSWORD", "pp"},
        {"PROXY_AUTH_DOMAIN", "CORP"},
        {"PROXY_AUTH_NTLM", "true"},
        {"PROXY_CA_CERTS", "/a.pem,/b.pem"},
        {"HOME", "/root"},
    };
    const auto config = env.read();
    REQUIRE(config);
    CHECK(config->port == 9090);
    CHECK(config->send_events == true);
    CHECK(config->events_uri == "https://events.example.com");
    CHECK(config->flush_interval == 2s);
    CHECK(config->capacity == 77u);
    CHECK(config->tls_enabled == true);
    CHECK(config->tls_cert == "/c.pem");
    CHECK(config->tls_key == "/k.pem");
    CHECK(config->tls_min_version == TlsVersion::tls1_2);
    CHECK(config->disconnected_status_time == 30s);
    CHECK(config->prometheus_enabled == true);
    CHECK(config->prometheus_port == 9101);
    CHECK(config->prometheus_prefix == "ld");
    CHECK(config->offline_file_data_source == "/archive.tar.gz");
    CHECK(config->ignored ==
          std::vector<IgnoredSetting>{{"EVENTS_INLINE_USERS", IgnoredBecause::inline_users}});
    CHECK(config->proxy_url == "http://proxy:3128");
    CHECK(config->proxy_user == "pu");
    CHECK(config->proxy_password == "pp");
    CHECK(config->proxy_domain == "CORP");
    CHECK(config->proxy_ntlm_auth == true);
    CHECK(config->ca_cert_files == std::vector<std::string>{"/a.pem", "/b.pem"});
    CHECK(config->environments.empty());
}

TEST_CASE("relay_config_from_environment accepts a bare number of seconds", "[config]") {
    FakeEnv env;
    env.vars = {{"EVENTS_FLUSH_INTERVAL", "3"}};
    const auto config = env.read();
    REQUIRE(config);
    CHECK(config->flush_interval == 3s);
}

TEST_CASE("relay_config_from_environment reads per-environment variables", "[config]") {
    FakeEnv env;
    env.vars = {
        {"LD_ENV_my_env", "sdk-1"},
        {"LD_MOBILE_KEY_my_env", "mob-1"},
        {"LD_CLIENT_SIDE_ID_my_env", "id-1"},
        {"LD_ALLOWED_ORIGIN_my_env", "https://a.example, https://b.example"},
        {"LD_ALLOWED_HEADER_my_env", "X-One,X-Two"},
        {"LD_ENV_Dashed-Name", "sdk-2"},
        {"LD_CLIENT_SIDE_ID_js_only", "id-3"},
    };
    const auto config = env.read();
    REQUIRE(config);
    // Sorted by name, so the result does not depend on the order of `environ`.
    REQUIRE(config->environments.size() == 3);
    const auto& dashed = config->environments[0];
    CHECK(dashed.name == "Dashed-Name");
    CHECK(dashed.sdk_key == "sdk-2");
    CHECK(dashed.mobile_key.empty());
    const auto& js_only = config->environments[1];
    CHECK(js_only.name == "js_only");
    CHECK(js_only.env_id == "id-3");
    CHECK(js_only.sdk_key.empty());
    const auto& mine = config->environments[2];
    CHECK(mine.name == "my_env");
    CHECK(mine.sdk_key == "sdk-1");
    CHECK(mine.mobile_key == "mob-1");
    CHECK(mine.env_id == "id-1");
    CHECK(mine.allowed_origins ==
          std::vector<std::string>{"https://a.example", "https://b.example"});
    CHECK(mine.allowed_headers == std::vector<std::string>{"X-One", "X-Two"});
}

TEST_CASE("relay_config_from_environment treats empty variables as unset", "[config]") {
    FakeEnv env;
    env.vars = {{"PORT", ""}, {"USE_EVENTS", ""}, {"LD_ENV_x", ""}};
    const auto config = env.read();
    REQUIRE(config);
    CHECK_FALSE(config->port);
    CHECK_FALSE(config->send_events);
    CHECK(config->environments.empty());
}

TEST_CASE("relay_config_from_environment names the variable in errors", "[config]") {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"PORT", "http"},
        {"PORT", "65536"},
        {"USE_EVENTS", "sometimes"},
        {"EVENTS_FLUSH_INTERVAL", "later"},
        {"EVENTS_CAPACITY", "-3"},
        {"TLS_ENABLED", "2"},
        {"TLS_MIN_VERSION", "TLSv1.2"},
        {"PROMETHEUS_PORT", "metrics"},
        {"PROMETHEUS_PREFIX", "a b"},
        {"LD_ENV_", "sdk-1"},
    };
    for (const auto& [name, value] : cases) {
        INFO(name << "=" << value);
        FakeEnv env;
        env.vars = {{name, value}};
        const auto error = env_error(env);
        CHECK(error.message.rfind(name + ": ", 0) == 0);
    }
}

TEST_CASE("relay_config_from_environment records ignored variables, once each", "[config]") {
    FakeEnv env;
    env.vars = {
        {"REDIS_HOST", "redis"},     {"CACHE_TTL", "30s"},         {"USE_REDIS", "false"},
        {"LD_PREFIX_prod", "ld"},    {"LD_SECURE_MODE_prod", "0"}, {"DATADOG_TAG_team", "x"},
        {"ENV_ALLOWED_ORIGIN", "*"}, {"EXIT_ON_ERROR", "1"},       {"LD_ENV_prod", "sdk-1"},
    };
    const auto config = env.read();
    REQUIRE(config);
    // The per-environment ones create no environment of their own.
    REQUIRE(config->environments.size() == 1);
    CHECK(config->environments[0].sdk_key == "sdk-1");
    std::vector<std::string> names;
    for (const auto& ignored : config->ignored) {
        names.push_back(ignored.name);
    }
    std::sort(names.begin(), names.end());
    // CACHE_TTL is three rows (Redis, DynamoDB, Consul) and ENV_ALLOWED_ORIGIN two: named once.
    CHECK(names == std::vector<std::string>{"CACHE_TTL", "DATADOG_TAG_team", "ENV_ALLOWED_ORIGIN",
                                            "EXIT_ON_ERROR", "LD_PREFIX_prod", "REDIS_HOST"});
}

TEST_CASE("relay_config_from_process_environment reads environ", "[config]") {
    // A name no real deployment uses, removed again below.
    const std::string name = "LD_ENV_evrelay_test_" + std::to_string(::getpid());
    REQUIRE(::setenv(name.c_str(), "sdk-from-environ", 1) == 0);
    const auto config = relay_config_from_process_environment();
    ::unsetenv(name.c_str());
    REQUIRE(config);
    const auto found = std::find_if(config->environments.begin(), config->environments.end(),
                                    [&](const Environment& e) { return e.name == name.substr(7); });
    REQUIRE(found != config->environments.end());
    CHECK(found->sdk_key == "sdk-from-environ");
}

TEST_CASE("merge_relay_config lets the environment override the file", "[config]") {
    const auto file = parse_ok(R"([Main]
port = 8030
[Events]
sendEvents = true
capacity = 1000
eventsUri = https://file.example.com
[Environment "production"]
sdkKey = sdk-file
mobileKey = mob-file
allowedOrigin = https://file.example
[Environment "staging"]
sdkKey = sdk-staging
[Proxy]
caCertFiles = /file.pem
[Prometheus]
enabled = true
port = 9100
[Redis]
host = redis
)");
    FakeEnv env;
    env.vars = {
        {"PORT", "9000"},
        {"PROMETHEUS_PORT", "9200"},
        {"TLS_MIN_VERSION", "1.3"},
        {"REDIS_PASSWORD", "secret"},
        {"USE_EVENTS", "false"},
        {"LD_ENV_production", "sdk-env"},
        {"LD_ALLOWED_ORIGIN_production", "https://env.example"},
        {"LD_CLIENT_SIDE_ID_newenv", "id-new"},
    };
    const auto from_env = env.read();
    REQUIRE(from_env);
    const auto merged = merge_relay_config(file, *from_env);

    CHECK(merged.port == 9000);
    CHECK(merged.prometheus_enabled == true); // only in the file
    CHECK(merged.prometheus_port == 9200);
    CHECK(merged.tls_min_version == TlsVersion::tls1_3);
    CHECK(merged.ignored ==
          std::vector<IgnoredSetting>{{"[Redis] host", IgnoredBecause::data_store},
                                      {"REDIS_PASSWORD", IgnoredBecause::data_store}});
    CHECK(merged.send_events == false);
    CHECK(merged.capacity == 1000u);                        // only in the file
    CHECK(merged.events_uri == "https://file.example.com"); // only in the file
    CHECK(merged.ca_cert_files == std::vector<std::string>{"/file.pem"});
    REQUIRE(merged.environments.size() == 3);
    const auto& production = merged.environments[0];
    CHECK(production.name == "production");
    CHECK(production.sdk_key == "sdk-env");
    CHECK(production.mobile_key == "mob-file"); // not set by the environment: kept
    CHECK(production.allowed_origins == std::vector<std::string>{"https://env.example"});
    CHECK(merged.environments[1].name == "staging");
    CHECK(merged.environments[1].sdk_key == "sdk-staging");
    CHECK(merged.environments[2].name == "newenv"); // only in the environment: appended
    CHECK(merged.environments[2].env_id == "id-new");
}

TEST_CASE("merge_relay_config keeps the base where the override is empty", "[config]") {
    RelayConfig base;
    base.port = 1;
    base.flush_interval = 5s;
    base.proxy_user = "user";
    base.ca_cert_files = {"/a.pem"};
    RelayConfig over;
    over.flush_interval = 1s;
    over.ca_cert_files = {"/b.pem"};
    const auto merged = merge_relay_config(base, over);
    CHECK(merged.port == 1);
    CHECK(merged.flush_interval == 1s);
    CHECK(merged.proxy_user == "user");
    CHECK(merged.ca_cert_files == std::vector<std::string>{"/b.pem"});
    CHECK(merge_relay_config(RelayConfig{}, RelayConfig{}).environments.empty());
}

TEST_CASE("check_relay_config requires a credential per environment", "[config]") {
    RelayConfig config;
    Environment env;
    env.name = "origins-only";
    env.allowed_origins = {"https://a.example"};
    config.environments.push_back(env);
    const auto error = check_relay_config(config);
    REQUIRE_FALSE(error);
    CHECK(error.error().kind == ErrorKind::config);
    CHECK_THAT(error.error().message, Catch::Contains("\"origins-only\" has no credentials"));

    config.environments[0].mobile_key = "mob-1";
    CHECK(check_relay_config(config));
}
