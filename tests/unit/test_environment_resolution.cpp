#include "core/config/environment_resolution.hpp"

#include <catch2/catch.hpp>

using namespace evrelay;

namespace {

RelayConfig two_environments() {
    RelayConfig config;
    Environment production;
    production.name = "production";
    production.sdk_key = "sdk-prod";
    production.env_id = "env-prod";
    Environment staging;
    staging.name = "staging";
    staging.sdk_key = "sdk-staging";
    config.environments = {production, staging};
    return config;
}

} // namespace

TEST_CASE("resolve_environments", "[config]") {
    SECTION("no flags: the configured environments, no target") {
        auto resolved = resolve_environments(two_environments(), {});
        REQUIRE(resolved);
        CHECK(resolved->environments.size() == 2);
        CHECK_FALSE(resolved->target);
    }
    SECTION("credential flags alone form the environment \"default\"") {
        CredentialFlags flags;
        flags.sdk_key = "sdk-flag";
        flags.env_id = "env-flag";
        auto resolved = resolve_environments({}, flags);
        REQUIRE(resolved);
        REQUIRE(resolved->environments.size() == 1);
        CHECK(resolved->environments[0].name == "default");
        CHECK(resolved->environments[0].sdk_key == "sdk-flag");
        CHECK(resolved->environments[0].env_id == "env-flag");
        CHECK(resolved->target == "default");
    }
    SECTION("--env picks a configured environment and flags override its credentials") {
        CredentialFlags flags;
        flags.env_name = "production";
        flags.sdk_key = "sdk-override";
        auto resolved = resolve_environments(two_environments(), flags);
        REQUIRE(resolved);
        CHECK(resolved->target == "production");
        const auto& production = resolved->environments[0];
        CHECK(production.sdk_key == "sdk-override"); // flag > config
        CHECK(production.env_id == "env-prod");      // untouched field keeps the config's
    }
    SECTION("--env naming nothing configured is a configuration error listing what is") {
        CredentialFlags flags;
        flags.env_name = "prod";
        auto resolved = resolve_environments(two_environments(), flags);
        REQUIRE_FALSE(resolved);
        CHECK(resolved.error().kind == ErrorKind::config);
        CHECK_THAT(resolved.error().message,
                   Catch::Contains("\"prod\"") && Catch::Contains("\"production\", \"staging\""));
    }
}
