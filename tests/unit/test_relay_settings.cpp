// The table of Relay's settings: the file and the variables read each setting alike.
#include "core/config/ignored_settings.hpp"
#include "core/config/relay_settings.hpp"

#include <catch2/catch.hpp>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

using namespace evrelay;

namespace {

Result<RelayConfig> from_variables(const std::map<std::string, std::string>& variables) {
    std::vector<std::string> names;
    for (const auto& [name, value] : variables) {
        names.push_back(name);
    }
    return relay_config_from_environment(
        names, [&](const std::string& name) -> std::optional<std::string> {
            const auto found = variables.find(name);
            if (found == variables.end()) {
                return std::nullopt;
            }
            return found->second;
        });
}

std::string lower(std::string_view text) {
    std::string out(text);
    for (auto& c : out) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

// A value each kind of setting takes: "1" is a port, true, one second, a capacity, a text and a
// list; a TLS version and a metric prefix need their own.
std::string value_for(const RelaySetting& setting) {
    if (setting.key == "tlsMinVersion") {
        return "1.3";
    }
    if (setting.section == "Prometheus" && setting.key == "prefix") {
        return "relay";
    }
    return "1";
}

} // namespace

TEST_CASE("relay_settings: each honoured setting's key and variable give the same configuration",
          "[config]") {
    for (const auto& setting : relay_settings()) {
        if (!setting.honoured()) {
            continue;
        }
        INFO("[" << setting.section << "] " << setting.key << " / " << setting.variable);
        const std::string value = value_for(setting);
        std::string file;
        std::map<std::string, std::string> variables;
        if (setting.per_environment) {
            // An environment needs a credential; the row under test may then replace it.
            file = "[Environment \"e\"]\nsdkKey = k\n" + std::string(setting.key) + " = " + value +
                   "\n";
            variables = {{"LD_ENV_e", "k"}};
            variables[std::string(setting.variable) + "e"] = value;
        } else {
            file = "[" + std::string(setting.section) + "]\n" + std::string(setting.key) + " = " +
                   value + "\n";
            variables = {{std::string(setting.variable), value}};
        }
        const auto from_file = parse_relay_config(file, "test.conf");
        const auto from_environment = from_variables(variables);
        REQUIRE(from_file);
        REQUIRE(from_environment);
        CHECK(*from_file == *from_environment);
        // Honoured: it lands in the configuration, and is not named as ignored.
        CHECK_FALSE(*from_file == RelayConfig{});
        CHECK(from_file->ignored.empty());
    }
}

TEST_CASE("relay_settings: each ignored setting is named in one warning with its reason",
          "[config]") {
    for (const auto& setting : relay_settings()) {
        if (setting.honoured()) {
            continue;
        }
        INFO("[" << setting.section << "] " << setting.key << " / " << setting.variable);
        std::vector<std::pair<std::string, std::string>> given; // (name, file text or variable)
        if (!setting.key.empty() || setting.variable.empty()) {
            // A section ignored whole ([OpenCensus]) takes any key.
            const std::string key = setting.key.empty() ? "anyKey" : std::string(setting.key);
            const std::string header = setting.per_environment
                                           ? "[Environment \"e\"]\nsdkKey = k\n"
                                           : "[" + std::string(setting.section) + "]\n";
            const auto config = parse_relay_config(header + key + " = 1\n", "test.conf");
            REQUIRE(config);
            const std::string name = setting.per_environment
                                         ? "[Environment \"e\"] " + key
                                         : "[" + std::string(setting.section) + "] " + key;
            CHECK(config->ignored == std::vector<IgnoredSetting>{{name, setting.ignored_because}});
            const auto lines = ignored_settings(*config);
            REQUIRE(lines.size() == 1);
            CHECK_THAT(lines[0], Catch::Contains(name) && Catch::Contains(std::string(
                                                              describe(setting.ignored_because))));
        }
        if (!setting.variable.empty()) {
            const std::string name =
                std::string(setting.variable) + (setting.variable_is_prefix ? "e" : "");
            const auto config = from_variables({{name, "1"}});
            REQUIRE(config);
            CHECK(config->ignored == std::vector<IgnoredSetting>{{name, setting.ignored_because}});
            CHECK(config->environments.empty());
        }
    }
}

TEST_CASE("relay_settings: names are unique and per-environment rows are in [Environment]",
          "[config]") {
    std::set<std::string> keys;
    std::map<std::string, IgnoredBecause> variables;
    for (const auto& setting : relay_settings()) {
        INFO("[" << setting.section << "] " << setting.key << " / " << setting.variable);
        if (!setting.key.empty()) {
            CHECK(keys.insert(lower(setting.section) + "." + lower(setting.key)).second);
        }
        CHECK((!setting.key.empty() || !setting.variable.empty() || !setting.honoured()));
        if (!setting.variable.empty()) {
            // Relay shares a few variables between sections (CACHE_TTL, ENV_ALLOWED_ORIGIN…):
            // only between ignored settings of the same reason.
            const auto [at, inserted] =
                variables.emplace(std::string(setting.variable), setting.ignored_because);
            if (!inserted) {
                CHECK_FALSE(setting.honoured());
                CHECK(at->second == setting.ignored_because);
            }
        }
        CHECK(setting.per_environment == (setting.section == k_environment_section));
        if (setting.per_environment) {
            CHECK(setting.variable_is_prefix);
        }
        if (setting.variable_is_prefix) {
            CHECK(setting.variable.ends_with('_'));
        }
        CHECK(setting.store != nullptr);
        CHECK(setting.reset != nullptr);
    }
}

// Every setting of Relay 6 (ld-relay v6's docs/configuration.md and config/config.go, 6.7.18,
// the last v6 release; and Relay 5's [Events] samplingInterval), written out here independently
// of the table: each must be a row of it, honoured or ignored.
TEST_CASE("relay_settings: every setting of Relay 6 is in the table", "[config]") {
    const std::vector<std::pair<std::string, std::string>> relay6 = {
        {"Main", "streamUri"},
        {"Main", "baseUri"},
        {"Main", "clientSideBaseUri"},
        {"Main", "exitOnError"},
        {"Main", "exitAlways"},
        {"Main", "ignoreConnectionErrors"},
        {"Main", "port"},
        {"Main", "initTimeout"},
        {"Main", "heartbeatInterval"},
        {"Main", "maxClientConnectionTime"},
        {"Main", "disconnectedStatusTime"},
        {"Main", "disableInternalUsageMetrics"},
        {"Main", "tlsEnabled"},
        {"Main", "tlsCert"},
        {"Main", "tlsKey"},
        {"Main", "tlsMinVersion"},
        {"Main", "logLevel"},
        {"Main", "bigSegmentsStaleAsDegraded"},
        {"Main", "bigSegmentsStaleThreshold"},
        {"AutoConfig", "key"},
        {"AutoConfig", "envDatastorePrefix"},
        {"AutoConfig", "envDatastoreTableName"},
        {"AutoConfig", "envAllowedOrigin"},
        {"AutoConfig", "envAllowedHeader"},
        {"OfflineMode", "fileDataSource"},
        {"OfflineMode", "envDatastorePrefix"},
        {"OfflineMode", "envDatastoreTableName"},
        {"OfflineMode", "envAllowedOrigin"},
        {"OfflineMode", "envAllowedHeader"},
        {"Events", "sendEvents"},
        {"Events", "eventsUri"},
        {"Events", "flushInterval"},
        {"Events", "capacity"},
        {"Events", "inlineUsers"},
        {"Events", "samplingInterval"},
        {"Environment", "sdkKey"},
        {"Environment", "mobileKey"},
        {"Environment", "envId"},
        {"Environment", "secureMode"},
        {"Environment", "prefix"},
        {"Environment", "tableName"},
        {"Environment", "allowedOrigin"},
        {"Environment", "allowedHeader"},
        {"Environment", "logLevel"},
        {"Environment", "ttl"},
        {"Redis", "host"},
        {"Redis", "port"},
        {"Redis", "url"},
        {"Redis", "tls"},
        {"Redis", "password"},
        {"Redis", "localTtl"},
        {"DynamoDB", "enabled"},
        {"DynamoDB", "tableName"},
        {"DynamoDB", "url"},
        {"DynamoDB", "localTtl"},
        {"Consul", "host"},
        {"Consul", "token"},
        {"Consul", "tokenFile"},
        {"Consul", "localTtl"},
        {"Datadog", "enabled"},
        {"Datadog", "statsAddr"},
        {"Datadog", "traceAddr"},
        {"Datadog", "tag"},
        {"Datadog", "prefix"},
        {"Stackdriver", "enabled"},
        {"Stackdriver", "projectID"},
        {"Stackdriver", "prefix"},
        {"Prometheus", "enabled"},
        {"Prometheus", "port"},
        {"Prometheus", "prefix"},
        {"Proxy", "url"},
        {"Proxy", "user"},
        {"Proxy", "password"},
        {"Proxy", "domain"},
        {"Proxy", "caCertFiles"},
        {"Proxy", "ntlmAuth"},
    };
    const std::vector<std::string> relay6_variables = {
        "STREAM_URI",
        "BASE_URI",
        "CLIENT_SIDE_BASE_URI",
        "EXIT_ON_ERROR",
        "EXIT_ALWAYS",
        "IGNORE_CONNECTION_ERRORS",
        "PORT",
        "INIT_TIMEOUT",
        "HEARTBEAT_INTERVAL",
        "MAX_CLIENT_CONNECTION_TIME",
        "DISCONNECTED_STATUS_TIME",
        "DISABLE_INTERNAL_USAGE_METRICS",
        "TLS_ENABLED",
        "TLS_CERT",
        "TLS_KEY",
        "TLS_MIN_VERSION",
        "LOG_LEVEL",
        "BIG_SEGMENTS_STALE_AS_DEGRADED",
        "BIG_SEGMENTS_STALE_THRESHOLD",
        "AUTO_CONFIG_KEY",
        "ENV_DATASTORE_PREFIX",
        "ENV_DATASTORE_TABLE_NAME",
        "ENV_ALLOWED_ORIGIN",
        "ENV_ALLOWED_HEADER",
        "FILE_DATA_SOURCE",
        "USE_EVENTS",
        "EVENTS_HOST",
        "EVENTS_FLUSH_INTERVAL",
        "EVENTS_CAPACITY",
        "EVENTS_INLINE_USERS",
        "EVENTS_SAMPLING_INTERVAL",
        "LD_ENV_",
        "LD_MOBILE_KEY_",
        "LD_CLIENT_SIDE_ID_",
        "LD_SECURE_MODE_",
        "LD_PREFIX_",
        "LD_TABLE_NAME_",
        "LD_ALLOWED_ORIGIN_",
        "LD_ALLOWED_HEADER_",
        "LD_LOG_LEVEL_",
        "LD_TTL_",
        "USE_REDIS",
        "REDIS_HOST",
        "REDIS_PORT",
        "REDIS_URL",
        "REDIS_TLS",
        "REDIS_PASSWORD",
        "CACHE_TTL",
        "USE_DYNAMODB",
        "DYNAMODB_TABLE",
        "DYNAMODB_URL",
        "USE_CONSUL",
        "CONSUL_HOST",
        "CONSUL_TOKEN",
        "CONSUL_TOKEN_FILE",
        "USE_DATADOG",
        "DATADOG_STATS_ADDR",
        "DATADOG_TRACE_ADDR",
        "DATADOG_TAG_",
        "DATADOG_PREFIX",
        "USE_STACKDRIVER",
        "STACKDRIVER_PROJECT_ID",
        "STACKDRIVER_PREFIX",
        "USE_PROMETHEUS",
        "PROMETHEUS_PORT",
        "PROMETHEUS_PREFIX",
        "PROXY_URL",
        "PROXY_AUTH_USER",
        "PROXY_AUTH_PASSWORD",
        "PROXY_AUTH_DOMAIN",
        "PROXY_CA_CERTS",
        "PROXY_AUTH_NTLM",
    };
    std::set<std::string> keys;
    std::set<std::string> variables;
    for (const auto& setting : relay_settings()) {
        keys.insert(lower(setting.section) + "." + lower(setting.key));
        variables.insert(std::string(setting.variable));
    }
    for (const auto& [section, key] : relay6) {
        INFO("[" << section << "] " << key);
        CHECK(keys.count(lower(section) + "." + lower(key)) == 1);
    }
    for (const auto& variable : relay6_variables) {
        INFO(variable);
        CHECK(variables.count(variable) == 1);
    }
    // The sections SPEC §9 names as warned are known, [OpenCensus] included.
    for (const auto* section :
         {"Redis", "DynamoDB", "Consul", "Datadog", "Stackdriver", "OpenCensus", "AutoConfig"}) {
        INFO(section);
        const auto config = parse_relay_config("[" + std::string(section) + "]\nx = 1\n", "t");
        REQUIRE(config);
        REQUIRE(config->ignored.size() == 1);
        CHECK(config->ignored[0].reason != IgnoredBecause::unknown);
    }
}

namespace {

// One row of a table of settings: "Section.key|VARIABLE|honoured" (key and variable may be
// empty; a per-environment variable is its prefix, LD_ENV_).
std::string row_of(std::string_view section, std::string_view key, std::string_view variable,
                   bool honoured) {
    return std::string(section) + "." + std::string(key) + "|" + std::string(variable) + "|" +
           (honoured ? "honoured" : "warned");
}

std::string_view trim_spaces(std::string_view text) {
    while (!text.empty() && text.front() == ' ') {
        text.remove_prefix(1);
    }
    while (!text.empty() && text.back() == ' ') {
        text.remove_suffix(1);
    }
    return text;
}

// The text between the first pair of backquotes, or "" when there is none ("—").
std::string_view quoted(std::string_view cell) {
    const auto open = cell.find('`');
    const auto close = open == std::string_view::npos ? open : cell.find('`', open + 1);
    if (close == std::string_view::npos) {
        return {};
    }
    return cell.substr(open + 1, close - open - 1);
}

// The rows of the README's table of Relay's settings (between its markers), as row_of() writes
// them: | `[Section] key` | `VARIABLE` | honoured: … / warned: … |, where the setting may be
// `[Environment "NAME"] key` or a bare `[Section]`, and the variable `LD_ENV_<NAME>` or —.
std::set<std::string> readme_rows() {
    std::ifstream in(std::filesystem::path(EVRELAY_SOURCE_DIR) / "README.md");
    REQUIRE(in);
    std::set<std::string> rows;
    std::string line;
    bool inside = false;
    while (std::getline(in, line)) {
        if (line.find("<!-- relay-settings:begin -->") != std::string::npos) {
            inside = true;
            continue;
        }
        if (line.find("<!-- relay-settings:end -->") != std::string::npos) {
            break;
        }
        if (!inside || !line.starts_with("| `[")) {
            continue;
        }
        INFO(line);
        std::vector<std::string_view> cells;
        std::string_view rest(line);
        rest.remove_prefix(1);
        while (!rest.empty()) {
            const auto bar = rest.find('|');
            cells.push_back(trim_spaces(rest.substr(0, bar)));
            if (bar == std::string_view::npos) {
                break;
            }
            rest.remove_prefix(bar + 1);
        }
        REQUIRE(cells.size() >= 3);
        std::string_view setting = quoted(cells[0]); // [Section "NAME"] key
        REQUIRE(setting.starts_with('['));
        const auto close = setting.find(']');
        REQUIRE(close != std::string_view::npos);
        std::string_view section = setting.substr(1, close - 1);
        section = section.substr(0, section.find(' ')); // drop "NAME"
        const std::string_view key = trim_spaces(setting.substr(close + 1));
        std::string variable(quoted(cells[1]));
        if (const auto placeholder = variable.find('<'); placeholder != std::string::npos) {
            variable.erase(placeholder); // LD_ENV_<NAME> → LD_ENV_
        }
        const bool honoured = cells[2].starts_with("honoured");
        CHECK((honoured || cells[2].starts_with("warned")));
        rows.insert(row_of(section, key, variable, honoured));
    }
    return rows;
}

} // namespace

// The README's table of Relay's settings and the code's table must not drift apart: the same
// settings, variables and verdicts.
TEST_CASE("relay_settings: the README's table lists the same settings", "[config]") {
    std::set<std::string> code;
    for (const auto& setting : relay_settings()) {
        code.insert(row_of(setting.section, setting.key, setting.variable, setting.honoured()));
    }
    const auto readme = readme_rows();
    for (const auto& row : code) {
        INFO("in the code, not in README.md: " << row);
        CHECK(readme.count(row) == 1);
    }
    for (const auto& row : readme) {
        INFO("in README.md, not in the code: " << row);
        CHECK(code.count(row) == 1);
    }
}
