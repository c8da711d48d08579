// SPEC §9: flags beat environment variables, which beat the config file — for the port, the
// events URI and an environment's SDK key; a malformed config file exits 78 naming FILE:LINE.
#include "serve_client.hpp"

#include <catch2/catch.hpp>

using namespace evrelay::test;

namespace {

constexpr const char* k_file_key = "sdk-file-key-00000001";
constexpr const char* k_env_key = "sdk-env-key-000000002";
constexpr const char* k_flag_key = "sdk-flag-key-00000003";

// Posts one event with each key, flushes, and returns the statuses (in key order).
std::vector<long> post_with_each_key(std::uint16_t port, const std::string& event) {
    std::vector<long> statuses;
    for (const char* key : {k_file_key, k_env_key, k_flag_key}) {
        statuses.push_back(
            http_request(port, "POST", "/bulk",
                         {{"Authorization", key}, {"X-LaunchDarkly-Event-Schema", "4"}},
                         as_array({event}))
                .status);
    }
    CHECK(http_request(port, "POST", "/admin/flush").status == 202);
    return statuses;
}

// Runs one serve with `args` and `env`, posts with each key, stops it, and returns the statuses.
std::vector<long> run_scenario(std::vector<std::string> args,
                               const std::map<std::string, std::string>& env,
                               const std::string& event) {
    args.insert(args.begin(), {"serve", "--bind", "127.0.0.1", "--port", "0", "--no-gzip",
                               "--flush-interval", "1h"});
    auto process = start_evrelay(args, env);
    ServeGuard guard(*process);
    const auto port = wait_for_listening(*process);
    INFO(process->stderr_text());
    REQUIRE(port != 0);
    const auto statuses = post_with_each_key(port, event);
    // SIGTERM delivers whatever the flush has not yet delivered before serve exits.
    CHECK(guard.stop() == 0);
    return statuses;
}

} // namespace

TEST_CASE("serve takes flags over environment variables over the config file", "[serve]") {
    RecordingUpstream file_upstream;
    RecordingUpstream env_upstream;
    ScratchDir dir;
    const auto config = dir.write(
        "relay.conf", "[Events]\neventsUri = " + file_upstream.url() +
                          "\n\n[Environment \"production\"]\nsdkKey = " + k_file_key + "\n");
    const std::map<std::string, std::string> env = {{"EVENTS_HOST", env_upstream.url()},
                                                    {"LD_ENV_production", k_env_key}};
    const auto events = make_events(3);

    // The file alone: its key is the one, its events URI gets the events.
    CHECK(run_scenario({"--config", config.string()}, {}, events[0]) ==
          std::vector<long>{202, 401, 401});
    // File and variables: the variables win.
    CHECK(run_scenario({"--config", config.string()}, env, events[1]) ==
          std::vector<long>{401, 202, 401});
    // File, variables and flags: the flags win.
    CHECK(run_scenario({"--config", config.string(), "--env", "production", "--sdk-key", k_flag_key,
                        "--events-uri", file_upstream.url()},
                       env, events[2]) == std::vector<long>{401, 401, 202});

    const auto at_file = file_upstream.requests();
    const auto at_env = env_upstream.requests();
    REQUIRE(at_file.size() == 2);
    REQUIRE(at_env.size() == 1);
    CHECK(at_file[0].header("authorization") == k_file_key);
    CHECK(events_of(at_file[0].body) == std::vector<std::string>{events[0]});
    CHECK(at_env[0].header("authorization") == k_env_key);
    CHECK(events_of(at_env[0].body) == std::vector<std::string>{events[1]});
    CHECK(at_file[1].header("authorization") == k_flag_key);
    CHECK(events_of(at_file[1].body) == std::vector<std::string>{events[2]});
}

TEST_CASE("serve takes --port over PORT over [Main] port", "[serve]") {
    ScratchDir dir;
    const auto file_port = free_port();
    auto env_port = free_port();
    while (env_port == file_port) {
        env_port = free_port();
    }
    const auto config = dir.write(
        "relay.conf", "[Main]\nport = " + std::to_string(file_port) +
                          "\n[Environment \"production\"]\nsdkKey = " + k_file_key + "\n");
    auto listening_port = [&](std::vector<std::string> extra,
                              const std::map<std::string, std::string>& env) {
        std::vector<std::string> args = {
            "serve",         "--bind",       "127.0.0.1",         "--config",
            config.string(), "--events-uri", "http://127.0.0.1:9"};
        args.insert(args.end(), extra.begin(), extra.end());
        auto process = start_evrelay(args, env);
        ServeGuard guard(*process);
        const auto port = wait_for_listening(*process);
        INFO(process->stderr_text());
        CHECK(guard.stop() == 0);
        return port;
    };
    CHECK(listening_port({}, {}) == file_port);
    CHECK(listening_port({}, {{"PORT", std::to_string(env_port)}}) == env_port);
    const auto flag_port = listening_port({"--port", "0"}, {{"PORT", std::to_string(env_port)}});
    CHECK(flag_port != 0);
    CHECK(flag_port != env_port);
    CHECK(flag_port != file_port);
}

TEST_CASE("serve exits 78 naming the line of a malformed config file", "[serve]") {
    ScratchDir dir;
    const auto config = dir.write("broken.conf", "[Environment \"production\"]\n"
                                                 "sdkKey = sdk-file-key-00000001\n"
                                                 "\n"
                                                 "[Events\n"
                                                 "eventsUri = http://127.0.0.1:9\n");
    const auto result =
        run_evrelay({"serve", "--bind", "127.0.0.1", "--port", "0", "--config", config.string()},
                    std::nullopt, std::chrono::seconds(20));
    INFO(result.err);
    CHECK(result.status == 78);
    CHECK(result.err.find(config.string() + ":4") != std::string::npos);
}
