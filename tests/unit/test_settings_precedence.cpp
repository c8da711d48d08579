// SPEC §9: each setting comes from its flag, else Relay's variable, else Relay's file, else the
// default — checked per setting for every combination of the three sources.
#include "tests/support/scratch_dir.hpp"

#include "core/config/settings_precedence.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <unistd.h>

using namespace evrelay;
using namespace std::chrono_literals;

namespace {

RelayConfig file_config(const std::string& text) {
    auto config = parse_relay_config(text, "test.conf");
    if (!config) {
        FAIL("unexpected error: " << config.error().message);
    }
    return *config;
}

RelayConfig variables_config(const std::map<std::string, std::string>& variables) {
    std::vector<std::string> names;
    for (const auto& [name, value] : variables) {
        names.push_back(name);
    }
    auto config = relay_config_from_environment(
        names, [&](const std::string& name) -> std::optional<std::string> {
            const auto found = variables.find(name);
            if (found == variables.end()) {
                return std::nullopt;
            }
            return found->second;
        });
    if (!config) {
        FAIL("unexpected error: " << config.error().message);
    }
    return *config;
}

// One setting in each of its sources, and where it ends up.
template <class T> struct Sources {
    std::string file;                             // Relay's file saying `file_value`
    std::map<std::string, std::string> variables; // Relay's variables saying `variable_value`
    std::function<void(UpstreamFlags&, ServeFlags&)> flag; // the flag saying `flag_value` (or none)
    std::function<T(const UpstreamConfig&, const ServeConfig&)> value; // the resolved setting
    T default_value;
    T file_value;
    T variable_value;
    T flag_value;
};

// Resolves with every combination of file, variables and flag, and checks the winner.
template <class T> void check_precedence(const Sources<T>& sources) {
    for (int given = 0; given < 8; ++given) {
        const bool file = (given & 1) != 0;
        const bool variables = (given & 2) != 0;
        const bool flag = (given & 4) != 0;
        if (flag && !sources.flag) {
            continue; // a setting only Relay's configuration gives
        }
        INFO("file: " << file << ", variables: " << variables << ", flag: " << flag);
        UpstreamFlags upstream_flags;
        ServeFlags serve_flags;
        if (flag) {
            sources.flag(upstream_flags, serve_flags);
        }
        const auto upstream = resolve_upstream_config(
            upstream_flags, file ? file_config(sources.file) : RelayConfig{},
            variables ? variables_config(sources.variables) : RelayConfig{});
        if (!upstream) {
            FAIL("unexpected error: " << upstream.error().message);
        }
        const auto serve = resolve_serve_config(serve_flags, upstream->config);
        if (!serve) {
            FAIL("unexpected error: " << serve.error().message);
        }
        const T expected = flag        ? sources.flag_value
                           : variables ? sources.variable_value
                           : file      ? sources.file_value
                                       : sources.default_value;
        CHECK(sources.value(*upstream, *serve) == expected);
    }
}

// The named environment as resolved, or an empty one.
Environment environment_named(const UpstreamConfig& upstream, const std::string& name) {
    for (const auto& environment : upstream.environments.environments) {
        if (environment.name == name) {
            return environment;
        }
    }
    return {};
}

} // namespace

TEST_CASE("settings precedence: the events URI", "[config][precedence]") {
    Sources<std::string> sources;
    sources.file = "[Events]\neventsUri = https://file.example\n";
    sources.variables = {{"EVENTS_HOST", "https://variable.example"}};
    sources.flag = [](UpstreamFlags& flags, ServeFlags&) {
        flags.events_uri = "https://flag.example";
    };
    sources.value = [](const UpstreamConfig& upstream, const ServeConfig&) {
        return upstream.events_uri;
    };
    sources.default_value = "https://events.launchdarkly.com";
    sources.file_value = "https://file.example";
    sources.variable_value = "https://variable.example";
    sources.flag_value = "https://flag.example";
    check_precedence(sources);
}

TEST_CASE("settings precedence: the outbound proxy", "[config][precedence]") {
    Sources<std::string> sources;
    sources.file = "[Proxy]\nurl = http://file-proxy:3128\n";
    sources.variables = {{"PROXY_URL", "http://variable-proxy:3128"}};
    sources.flag = [](UpstreamFlags& flags, ServeFlags&) { flags.proxy = "http://flag-proxy:1"; };
    sources.value = [](const UpstreamConfig& upstream, const ServeConfig&) {
        return upstream.proxy.url;
    };
    sources.default_value = ""; // libcurl's own: HTTPS_PROXY, NO_PROXY
    sources.file_value = "http://file-proxy:3128";
    sources.variable_value = "http://variable-proxy:3128";
    sources.flag_value = "http://flag-proxy:1";
    check_precedence(sources);
}

TEST_CASE("settings precedence: the proxy's credentials", "[config][precedence]") {
    const auto file = file_config("[Proxy]\nurl = http://proxy:3128\nuser = file-user\n"
                                  "password = \"p @:/w\"\ndomain = CORP\nntlmAuth = true\n");
    SECTION("the file's credentials stay credentials, apart from the URL") {
        const auto upstream = resolve_upstream_config({}, file, {});
        REQUIRE(upstream);
        CHECK(upstream->proxy == OutboundProxy{.url = "http://proxy:3128",
                                               .user = "file-user",
                                               .password = "p @:/w",
                                               .domain = "CORP",
                                               .ntlm = true});
    }
    SECTION("a variable beats the file, field by field") {
        const auto upstream =
            resolve_upstream_config({}, file,
                                    variables_config({{"PROXY_AUTH_USER", "var-user"},
                                                      {"PROXY_AUTH_DOMAIN", "VAR"},
                                                      {"PROXY_AUTH_NTLM", "false"}}));
        REQUIRE(upstream);
        CHECK(upstream->proxy == OutboundProxy{.url = "http://proxy:3128",
                                               .user = "var-user",
                                               .password = "p @:/w",
                                               .domain = "VAR",
                                               .ntlm = false});
    }
    SECTION("--proxy replaces the configured proxy and its credentials") {
        UpstreamFlags flags;
        flags.proxy = "http://u:p@flag-proxy:1";
        const auto upstream = resolve_upstream_config(flags, file, {});
        REQUIRE(upstream);
        CHECK(upstream->proxy == OutboundProxy{.url = "http://u:p@flag-proxy:1"});
    }
    SECTION("credentials without a proxy URL are not used (libcurl's proxy has its own)") {
        const auto upstream =
            resolve_upstream_config({}, file_config("[Proxy]\nuser = u\npassword = p\n"), {});
        REQUIRE(upstream);
        CHECK(upstream->proxy == OutboundProxy{});
    }
    SECTION("ntlmAuth without a proxy URL is a configuration error, as in Relay") {
        const auto upstream =
            resolve_upstream_config({}, file_config("[Proxy]\nntlmAuth = true\n"), {});
        REQUIRE_FALSE(upstream);
        CHECK(upstream.error().kind == ErrorKind::config);
        CHECK_THAT(upstream.error().message, Catch::Contains("ntlmAuth"));
    }
}

TEST_CASE("settings precedence: the CA files", "[config][precedence]") {
    using Files = std::vector<std::string>;
    Sources<Files> sources;
    sources.file = "[Proxy]\ncaCertFiles = /file.pem, /file2.pem\n";
    sources.variables = {{"PROXY_CA_CERTS", "/variable.pem,/variable2.pem"}};
    sources.flag = [](UpstreamFlags& flags, ServeFlags&) { flags.ca_cert = "/flag.pem"; };
    sources.value = [](const UpstreamConfig& upstream, const ServeConfig&) {
        return upstream.ca_cert_files;
    };
    sources.default_value = {};
    sources.file_value = {"/file.pem", "/file2.pem"}; // every file
    sources.variable_value = {"/variable.pem", "/variable2.pem"};
    sources.flag_value = {"/flag.pem"};
    check_precedence(sources);
}

TEST_CASE("settings precedence: an environment's credentials", "[config][precedence]") {
    using Credentials = std::vector<std::string>; // SDK key, mobile key, client-side ID
    Sources<Credentials> sources;
    sources.file = "[Environment \"production\"]\nsdkKey = sdk-file\nmobileKey = mob-file\n"
                   "envId = id-file\n";
    sources.variables = {{"LD_ENV_production", "sdk-var"},
                         {"LD_MOBILE_KEY_production", "mob-var"},
                         {"LD_CLIENT_SIDE_ID_production", "id-var"}};
    sources.flag = [](UpstreamFlags& flags, ServeFlags&) {
        flags.credentials.env_name = "production";
        flags.credentials.sdk_key = "sdk-flag";
        flags.credentials.mobile_key = "mob-flag";
        flags.credentials.env_id = "id-flag";
    };
    sources.value = [](const UpstreamConfig& upstream, const ServeConfig&) {
        const auto environment = environment_named(upstream, "production");
        return Credentials{environment.sdk_key, environment.mobile_key, environment.env_id};
    };
    sources.default_value = {"", "", ""}; // no environment at all
    sources.file_value = {"sdk-file", "mob-file", "id-file"};
    sources.variable_value = {"sdk-var", "mob-var", "id-var"};
    sources.flag_value = {"sdk-flag", "mob-flag", "id-flag"};
    check_precedence(sources);
}

TEST_CASE("settings precedence: an environment's CORS origins and headers",
          "[config][precedence]") {
    using Cors = std::vector<std::vector<std::string>>; // origins, headers
    Sources<Cors> sources;
    sources.file = "[Environment \"web\"]\nenvId = id-1\nallowedOrigin = https://file.example\n"
                   "allowedHeader = X-File\n";
    sources.variables = {{"LD_CLIENT_SIDE_ID_web", "id-1"},
                         {"LD_ALLOWED_ORIGIN_web", "https://var.example,https://var2.example"},
                         {"LD_ALLOWED_HEADER_web", "X-Var"}};
    // No flag sets them.
    sources.value = [](const UpstreamConfig& upstream, const ServeConfig&) {
        const auto environment = environment_named(upstream, "web");
        return Cors{environment.allowed_origins, environment.allowed_headers};
    };
    sources.default_value = {{}, {}}; // no origin: only same-origin requests
    sources.file_value = {{"https://file.example"}, {"X-File"}};
    sources.variable_value = {{"https://var.example", "https://var2.example"}, {"X-Var"}};
    check_precedence(sources);
}

TEST_CASE("settings precedence: serve's port", "[config][precedence]") {
    Sources<int> sources;
    sources.file = "[Main]\nport = 1001\n";
    sources.variables = {{"PORT", "1002"}};
    sources.flag = [](UpstreamFlags&, ServeFlags& flags) { flags.port = 0; }; // any free port
    sources.value = [](const UpstreamConfig&, const ServeConfig& serve) { return serve.port; };
    sources.default_value = 8030;
    sources.file_value = 1001;
    sources.variable_value = 1002;
    sources.flag_value = 0;
    check_precedence(sources);
}

TEST_CASE("settings precedence: serve's flush interval", "[config][precedence]") {
    Sources<std::chrono::milliseconds> sources;
    sources.file = "[Events]\nflushInterval = 1s\n";
    sources.variables = {{"EVENTS_FLUSH_INTERVAL", "2"}};
    sources.flag = [](UpstreamFlags&, ServeFlags& flags) { flags.flush_interval = 300ms; };
    sources.value = [](const UpstreamConfig&, const ServeConfig& serve) {
        return serve.flush_interval;
    };
    sources.default_value = 5s;
    sources.file_value = 1s;
    sources.variable_value = 2s;
    sources.flag_value = 300ms;
    check_precedence(sources);
}

TEST_CASE("settings precedence: serve's batch size ([Events] capacity)", "[config][precedence]") {
    Sources<std::size_t> sources;
    sources.file = "[Events]\ncapacity = 11\n";
    sources.variables = {{"EVENTS_CAPACITY", "22"}};
    sources.flag = [](UpstreamFlags&, ServeFlags& flags) { flags.batch_size = 33; };
    sources.value = [](const UpstreamConfig&, const ServeConfig& serve) {
        return serve.batch_size;
    };
    sources.default_value = 1000;
    sources.file_value = 11;
    sources.variable_value = 22;
    sources.flag_value = 33;
    check_precedence(sources);
}

TEST_CASE("settings precedence: serve's forwarding (sendEvents, --no-forward)",
          "[config][precedence]") {
    Sources<bool> sources;
    sources.file = "[Events]\nsendEvents = false\n";
    sources.variables = {{"USE_EVENTS", "true"}};
    sources.flag = [](UpstreamFlags&, ServeFlags& flags) { flags.no_forward = true; };
    sources.value = [](const UpstreamConfig&, const ServeConfig& serve) { return serve.forward; };
    sources.default_value = true;
    sources.file_value = false;
    sources.variable_value = true;
    sources.flag_value = false;
    check_precedence(sources);

    SECTION("forward_off_by_config says when the configuration, not the flag, turned it off") {
        const auto off = resolve_serve_config({}, file_config(sources.file));
        REQUIRE(off);
        CHECK_FALSE(off->forward);
        CHECK(off->forward_off_by_config);
        ServeFlags no_forward;
        no_forward.no_forward = true;
        const auto by_flag = resolve_serve_config(no_forward, RelayConfig{});
        REQUIRE(by_flag);
        CHECK_FALSE(by_flag->forward);
        CHECK_FALSE(by_flag->forward_off_by_config);
        // --no-forward cannot be undone by the configuration, and is no flag to turn it on.
        const auto on = resolve_serve_config(no_forward, variables_config({{"USE_EVENTS", "1"}}));
        REQUIRE(on);
        CHECK_FALSE(on->forward);
    }
}

TEST_CASE("settings precedence: serve's TLS certificate and key", "[config][precedence]") {
    Sources<std::pair<std::string, std::string>> sources;
    sources.file = "[Main]\ntlsEnabled = true\ntlsCert = /file.crt\ntlsKey = /file.key\n";
    sources.variables = {
        {"TLS_ENABLED", "1"}, {"TLS_CERT", "/variable.crt"}, {"TLS_KEY", "/variable.key"}};
    sources.flag = [](UpstreamFlags&, ServeFlags& flags) {
        flags.tls_cert = "/flag.crt";
        flags.tls_key = "/flag.key";
    };
    sources.value = [](const UpstreamConfig&, const ServeConfig& serve) {
        return std::pair{serve.tls_cert, serve.tls_key};
    };
    sources.default_value = {"", ""};
    sources.file_value = {"/file.crt", "/file.key"};
    sources.variable_value = {"/variable.crt", "/variable.key"};
    sources.flag_value = {"/flag.crt", "/flag.key"};
    check_precedence(sources);
}

TEST_CASE("settings precedence: serve's TLS minimum version", "[config][precedence]") {
    Sources<TlsVersion> sources;
    // Only with TLS on: the file turns it on in every combination.
    sources.file = "[Main]\ntlsEnabled = true\ntlsCert = /c\ntlsKey = /k\ntlsMinVersion = 1.3\n";
    sources.variables = {{"TLS_MIN_VERSION", "1.2"}};
    sources.flag = [](UpstreamFlags&, ServeFlags& flags) {
        flags.tls_cert = "/c";
        flags.tls_key = "/k";
        flags.tls_min_version = TlsVersion::tls1_3;
    };
    sources.value = [](const UpstreamConfig&, const ServeConfig& serve) {
        return serve.tls_min_version;
    };
    sources.default_value = TlsVersion::tls1_2;
    sources.file_value = TlsVersion::tls1_3;
    sources.variable_value = TlsVersion::tls1_2;
    sources.flag_value = TlsVersion::tls1_3;
    check_precedence(sources);
}

TEST_CASE("resolve_serve_config: TLS from Relay's [Main] keys", "[config][precedence]") {
    SECTION("tlsEnabled without a certificate or key names what is missing") {
        for (const auto& [text, missing] :
             {std::pair{"[Main]\ntlsEnabled = true\n",
                        "tlsCert (TLS_CERT) and tlsKey (TLS_KEY) are"},
              std::pair{"[Main]\ntlsEnabled = true\ntlsKey = /k\n", "tlsCert (TLS_CERT) is"},
              std::pair{"[Main]\ntlsEnabled = true\ntlsCert = /c\n", "tlsKey (TLS_KEY) is"}}) {
            INFO(text);
            const auto resolved = resolve_serve_config({}, file_config(text));
            REQUIRE_FALSE(resolved);
            CHECK(resolved.error().kind == ErrorKind::config);
            CHECK_THAT(resolved.error().message,
                       Catch::Contains("[Main] tlsEnabled (TLS_ENABLED) is true but " +
                                       std::string(missing) + " not set"));
        }
    }
    SECTION("a certificate without tlsEnabled serves plain HTTP, with a warning") {
        const auto resolved = resolve_serve_config(
            {}, file_config("[Main]\ntlsEnabled = false\ntlsCert = /c\ntlsKey = /k\n"));
        REQUIRE(resolved);
        CHECK(resolved->tls_cert.empty());
        REQUIRE(resolved->warnings.size() == 1);
        CHECK_THAT(resolved->warnings[0], Catch::Contains("serving plain HTTP"));
    }
    SECTION("tlsMinVersion 1.0 or 1.1 stays at 1.2, with a warning") {
        const auto resolved = resolve_serve_config(
            {}, file_config("[Main]\ntlsEnabled = 1\ntlsCert = /c\ntlsKey = /k\n"
                            "tlsMinVersion = 1.1\n"));
        REQUIRE(resolved);
        CHECK(resolved->tls_min_version == TlsVersion::tls1_2);
        REQUIRE(resolved->warnings.size() == 1);
        CHECK_THAT(resolved->warnings[0], Catch::Contains("1.1") && Catch::Contains("1.2 and 1.3"));
    }
    SECTION("tlsMinVersion without TLS is warned about") {
        const auto resolved =
            resolve_serve_config({}, file_config("[Main]\ntlsMinVersion = 1.3\n"));
        REQUIRE(resolved);
        CHECK(resolved->tls_cert.empty());
        REQUIRE(resolved->warnings.size() == 1);
        CHECK_THAT(resolved->warnings[0], Catch::Contains("TLS is not enabled"));
    }
}

TEST_CASE("resolve_serve_config: [Prometheus], disconnectedStatusTime, offline mode",
          "[config][precedence]") {
    const auto defaults = resolve_serve_config({}, RelayConfig{});
    REQUIRE(defaults);
    CHECK_FALSE(defaults->prometheus);
    CHECK(defaults->prometheus_port == 8031);
    CHECK(defaults->metric_prefix.empty());
    CHECK(defaults->disconnected_status_time == 1min);
    CHECK_FALSE(defaults->offline);
    CHECK(defaults->warnings.empty());

    const auto configured = resolve_serve_config(
        {}, merge_relay_config(file_config("[Prometheus]\nenabled = true\nport = 9000\n"
                                           "prefix = relay\n[Main]\ndisconnectedStatusTime = 5m\n"
                                           "[OfflineMode]\nfileDataSource = /a.tar.gz\n"),
                               variables_config({{"PROMETHEUS_PORT", "9100"}})));
    REQUIRE(configured);
    CHECK(configured->prometheus);
    CHECK(configured->prometheus_port == 9100); // the variable beats the file
    CHECK(configured->metric_prefix == "relay");
    CHECK(configured->disconnected_status_time == 5min);
    CHECK(configured->offline);

    ServeFlags offline;
    offline.offline = true;
    const auto by_flag = resolve_serve_config(offline, RelayConfig{});
    REQUIRE(by_flag);
    CHECK(by_flag->offline);
}

TEST_CASE("resolve_serve_config refuses a zero --flush-interval", "[config][precedence]") {
    ServeFlags flags;
    flags.flush_interval = 0ms;
    const auto resolved = resolve_serve_config(flags, file_config("[Events]\nflushInterval=1s\n"));
    REQUIRE_FALSE(resolved);
    CHECK(resolved.error().kind == ErrorKind::invalid_input);
    CHECK(resolved.error().message == "--flush-interval: must be greater than 0");
}

TEST_CASE("resolve_upstream_config fails for what only the merge shows", "[config][precedence]") {
    SECTION("an environment the variables give origins but nothing a key") {
        const auto resolved = resolve_upstream_config(
            {}, {}, variables_config({{"LD_ALLOWED_ORIGIN_web", "https://a.example"}}));
        REQUIRE_FALSE(resolved);
        CHECK(resolved.error().kind == ErrorKind::config);
        CHECK_THAT(resolved.error().message, Catch::Contains("\"web\" has no credentials"));
    }
    SECTION("the variables may give the key of an environment the file gives origins") {
        auto file = file_config("[Environment \"web\"]\nenvId = id-file\n"
                                "allowedOrigin = https://a.example\n");
        const auto resolved =
            resolve_upstream_config({}, file, variables_config({{"LD_CLIENT_SIDE_ID_web", "id"}}));
        REQUIRE(resolved);
        CHECK(environment_named(*resolved, "web").env_id == "id");
        CHECK(environment_named(*resolved, "web").allowed_origins ==
              std::vector<std::string>{"https://a.example"});
    }
    SECTION("--env naming no environment") {
        UpstreamFlags flags;
        flags.credentials.env_name = "nowhere";
        const auto resolved = resolve_upstream_config(flags, {}, {});
        REQUIRE_FALSE(resolved);
        CHECK(resolved.error().kind == ErrorKind::config);
        CHECK_THAT(resolved.error().message, Catch::Contains("\"nowhere\""));
    }
}

TEST_CASE("load_upstream_config reads --config and the process's variables",
          "[config][precedence]") {
    const test::ScratchDir dir;
    const auto good = dir.write("relay.conf", "[Events]\neventsUri = https://file.example\n"
                                              "[Environment \"production\"]\nsdkKey = sdk-f\n");
    const auto bad = dir.write("bad.conf", "[Main]\nport = 1\n[Events\n");

    // A name no real deployment uses, removed again below.
    const std::string name = "evrelay_test_" + std::to_string(::getpid());
    const std::string variable = "LD_MOBILE_KEY_" + name;
    REQUIRE(::setenv(variable.c_str(), "mob-from-environ", 1) == 0);
    UpstreamFlags flags;
    flags.config_file = good.string();
    const auto loaded = load_upstream_config(flags);
    ::unsetenv(variable.c_str());
    REQUIRE(loaded);
    CHECK(loaded->events_uri == "https://file.example");
    CHECK(environment_named(*loaded, "production").sdk_key == "sdk-f");
    CHECK(environment_named(*loaded, name).mobile_key == "mob-from-environ");

    flags.config_file = bad.string();
    const auto malformed = load_upstream_config(flags);
    REQUIRE_FALSE(malformed);
    CHECK(malformed.error().kind == ErrorKind::config);
    CHECK(malformed.error().message.rfind(bad.string() + ":3: ", 0) == 0);

    flags.config_file = (dir / "missing.conf").string();
    const auto missing = load_upstream_config(flags);
    REQUIRE_FALSE(missing);
    CHECK(missing.error().kind == ErrorKind::io);
}
