// SIGHUP (SPEC §9, issue 12 item 5): what a reload applies in place and what it keeps for a
// restart, from configurations resolved as serve resolves them.
#include "core/config/serve_reload.hpp"

#include <catch2/catch.hpp>

using namespace evrelay;
using namespace std::chrono_literals;

namespace {

// The file resolved as serve resolves it without flags.
struct Resolved {
    UpstreamConfig upstream;
    ServeConfig serve;
};

Resolved resolve(const std::string& text) {
    auto file = parse_relay_config(text, "relay.conf");
    REQUIRE(file);
    auto upstream = resolve_upstream_config(UpstreamFlags{}, *file, RelayConfig{});
    REQUIRE(upstream);
    auto serve = resolve_serve_config(ServeFlags{}, upstream->config);
    REQUIRE(serve);
    return {std::move(*upstream), std::move(*serve)};
}

ServeReload reload(const std::string& before, const std::string& after) {
    const Resolved old = resolve(before);
    Resolved fresh = resolve(after);
    return plan_serve_reload(old.upstream, old.serve, std::move(fresh.upstream),
                             std::move(fresh.serve));
}

const std::string k_base = R"([Main]
port = 8030
[Events]
eventsUri = https://events.example.com
flushInterval = 5s
[Environment "production"]
sdkKey = sdk-11111111-1111-1111-1111-111111111111
allowedOrigin = https://a.example.com
[Environment "staging"]
sdkKey = sdk-22222222-2222-2222-2222-222222222222
)";

std::string replaced(std::string text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
    return text;
}

} // namespace

TEST_CASE("serve reload: the same configuration changes nothing", "[config][reload]") {
    const ServeReload plan = reload(k_base, k_base);
    CHECK(plan.applied.empty());
    CHECK(plan.needs_restart.empty());
    CHECK_FALSE(plan.route_changed);
    CHECK_FALSE(plan.flush_interval_changed);
    CHECK_FALSE(plan.base_uri_changed);
    CHECK(plan.upstream.environments.environments.size() == 2);
}

TEST_CASE("serve reload: environments added, removed, re-keyed and with new CORS",
          "[config][reload]") {
    std::string after = replaced(k_base, "sdk-2222", "sdk-3333");
    after = replaced(after, "https://a.example.com", "https://b.example.com");
    after = replaced(after, "[Environment \"staging\"]", "[Environment \"qa\"]");
    after += "[Environment \"staging\"]\nsdkKey = sdk-44444444-4444-4444-4444-444444444444\n"
             "allowedHeader = X-Trace\n";
    const ServeReload plan = reload(k_base + "[Environment \"old\"]\nmobileKey = mob-1\n", after);
    CHECK_THAT(plan.applied, Catch::VectorContains(std::string("environment qa added")));
    CHECK_THAT(plan.applied, Catch::VectorContains(std::string("environment old removed")));
    CHECK_THAT(plan.applied,
               Catch::VectorContains(std::string("environment production: new CORS")));
    CHECK_THAT(plan.applied,
               Catch::VectorContains(std::string("environment staging: new credentials and CORS")));
    CHECK(plan.applied.size() == 4);
    // No key is ever part of what is logged.
    for (const auto& phrase : plan.applied) {
        CHECK_THAT(phrase, !Catch::Contains("sdk-") && !Catch::Contains("mob-"));
    }
    CHECK(plan.needs_restart.empty());
    CHECK(plan.upstream.environments.environments.size() == 3);
}

TEST_CASE("serve reload: flush interval, events URI, proxy, CA files and baseUri apply in place",
          "[config][reload]") {
    std::string after = replaced(k_base, "flushInterval = 5s", "flushInterval = 1s");
    after = replaced(after, "https://events.example.com", "https://events2.example.com");
    after = replaced(after, "[Main]\n", "[Main]\nbaseUri = https://sdk2.example.com\n");
    after += "[Proxy]\nurl = http://proxy.example.com:3128\nuser = relay\npassword = \"p@ss w\"\n"
             "caCertFiles = /etc/ssl/a.pem, /etc/ssl/b.pem\n";
    const ServeReload plan = reload(k_base, after);
    CHECK(plan.flush_interval_changed);
    CHECK(plan.serve.flush_interval == 1s);
    CHECK(plan.route_changed);
    CHECK(plan.upstream.events_uri == "https://events2.example.com");
    CHECK(plan.upstream.proxy.password == "p@ss w");
    CHECK(plan.base_uri_changed);
    const std::vector<std::string> expected = {
        "flush interval 5s -> 1s",
        "events URI https://events.example.com -> https://events2.example.com",
        "proxy none -> http://proxy.example.com:3128",
        "CA files: /etc/ssl/a.pem, /etc/ssl/b.pem",
        "baseUri none -> https://sdk2.example.com",
    };
    CHECK(plan.applied == expected);
    CHECK(plan.needs_restart.empty());

    // Only the credentials of the same proxy: said without them.
    const ServeReload password_only = reload(after, replaced(after, "p@ss w", "n3w"));
    CHECK(password_only.route_changed);
    CHECK(password_only.applied == std::vector<std::string>{"proxy credentials"});
}

TEST_CASE("serve reload: what is bound at start keeps its old value and is named",
          "[config][reload]") {
    std::string after = replaced(k_base, "port = 8030", "port = 8040");
    after = replaced(after, "[Events]\n", "[Events]\ncapacity = 50\nsendEvents = false\n");
    after += "[Prometheus]\nenabled = true\nport = 9100\nprefix = relay\n";
    const ServeReload plan = reload(k_base, after);
    const std::vector<std::string> expected = {
        "port (8030 -> 8040)",
        "[Prometheus] enabled (off -> on)",
        "[Prometheus] port (8031 -> 9100)",
        "[Prometheus] prefix (none -> relay)",
        "[Events] capacity (1000 -> 50)",
        "sendEvents (on -> off)",
    };
    CHECK(plan.needs_restart == expected);
    CHECK(plan.applied.empty());
    // serve keeps running with the old values, so the next reload compares with those.
    CHECK(plan.serve.port == 8030);
    CHECK_FALSE(plan.serve.prometheus);
    CHECK(plan.serve.batch_size == 1000);
    CHECK(plan.serve.forward);
}
