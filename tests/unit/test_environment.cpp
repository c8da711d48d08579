#include "core/model/environment.hpp"

#include <catch2/catch.hpp>

using namespace evrelay;

namespace {

std::vector<Environment> two_environments() {
    Environment production;
    production.name = "production";
    production.sdk_key = "sdk-prod-0000000000001111";
    production.mobile_key = "mob-prod-0000000000002222";
    production.env_id = "5f0e00000000000000000001";
    Environment staging;
    staging.name = "staging";
    staging.sdk_key = "sdk-stag-0000000000003333";
    staging.env_id = "5f0e00000000000000000002"; // no mobile key
    return {production, staging};
}

} // namespace

TEST_CASE("Environment::credential", "[publisher][core]") {
    const Environment environment = two_environments()[0];
    CHECK(environment.credential(SdkKind::server) == environment.sdk_key);
    CHECK(environment.credential(SdkKind::mobile) == environment.mobile_key);
    CHECK(environment.credential(SdkKind::js) == environment.env_id);
}

TEST_CASE("EnvironmentTable::find_by_credential", "[publisher][core]") {
    const EnvironmentTable table(two_environments());
    const auto by_sdk =
        table.find_by_credential(CredentialKind::sdk_key, "sdk-stag-0000000000003333");
    REQUIRE(by_sdk.has_value());
    CHECK(by_sdk->name == "staging");
    const auto by_mobile =
        table.find_by_credential(CredentialKind::mobile_key, "mob-prod-0000000000002222");
    REQUIRE(by_mobile.has_value());
    CHECK(by_mobile->name == "production");
    const auto by_id = table.find_by_credential(CredentialKind::env_id, "5f0e00000000000000000002");
    REQUIRE(by_id.has_value());
    CHECK(by_id->name == "staging");

    // A credential of one kind does not match another kind.
    CHECK_FALSE(table.find_by_credential(CredentialKind::mobile_key, "sdk-stag-0000000000003333"));
    CHECK_FALSE(table.find_by_credential(CredentialKind::sdk_key, "sdk-stag-000000000000333"));
    CHECK_FALSE(table.find_by_credential(CredentialKind::sdk_key, "sdk-stag-00000000000033334"));
    // staging has no mobile key: an empty value must not select it.
    CHECK_FALSE(table.find_by_credential(CredentialKind::mobile_key, ""));
}

TEST_CASE("EnvironmentTable::replace", "[publisher][core]") {
    EnvironmentTable table(two_environments());
    const std::uint64_t before = table.generation();
    CHECK(table.find_by_name("production").has_value());
    CHECK_FALSE(table.find_by_name("nope").has_value());

    std::vector<Environment> changed = two_environments();
    changed[0].sdk_key = "sdk-prod-rotated-00000009999";
    table.replace(changed);
    CHECK(table.generation() == before + 1);
    CHECK_FALSE(table.find_by_credential(CredentialKind::sdk_key, "sdk-prod-0000000000001111"));
    const auto found =
        table.find_by_credential(CredentialKind::sdk_key, "sdk-prod-rotated-00000009999");
    REQUIRE(found.has_value());
    CHECK(found->name == "production");
    CHECK(table.all() == changed);
}
