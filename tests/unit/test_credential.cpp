#include "core/model/credential.hpp"

#include <catch2/catch.hpp>

using namespace evrelay;

TEST_CASE("mask_credential", "[publisher][core]") {
    CHECK(mask_credential("sdk-8b2e4c4a-6d3f-4b0e-9d7e-2a1b3c4d1234") == "sdk-****1234");
    CHECK(mask_credential("mob-8b2e4c4a-6d3f-4b0e-9d7e-2a1b3c4d5678") == "mob-****5678");
    CHECK(mask_credential("5f0e1d2c3b4a59687706abcd") == "****abcd");
    CHECK(mask_credential("") == "****");
    CHECK(mask_credential("sdk-1") == "****");
    CHECK(mask_credential("1234567") == "****");
    // The last four would be all (or half) of the secret part: none of it is shown.
    CHECK(mask_credential("sdk-abcd") == "sdk-****");
    CHECK(mask_credential("sdk-abcdefg") == "sdk-****");
    CHECK(mask_credential("sdk-abcdefgh") == "sdk-****efgh");
    CHECK(mask_credential("api-12345678") == "****5678");
}

TEST_CASE("constant_time_equal", "[publisher][core]") {
    CHECK(constant_time_equal("sdk-abc", "sdk-abc"));
    CHECK(constant_time_equal("", ""));
    CHECK_FALSE(constant_time_equal("sdk-abc", "sdk-abd"));
    CHECK_FALSE(constant_time_equal("sdk-abc", "sdk-ab"));
    CHECK_FALSE(constant_time_equal("sdk-ab", "sdk-abc"));
    CHECK_FALSE(constant_time_equal("", "x"));
    // A shorter string padded with NULs must not equal one that really contains them.
    CHECK_FALSE(constant_time_equal(std::string_view("ab\0", 3), "ab"));
}

TEST_CASE("strip_api_key_prefix", "[publisher][core]") {
    CHECK(strip_api_key_prefix("api_key sdk-123") == "sdk-123");
    CHECK(strip_api_key_prefix("API_KEY sdk-123") == "sdk-123");
    CHECK(strip_api_key_prefix("Api_Key sdk-123") == "sdk-123");
    CHECK(strip_api_key_prefix("sdk-123") == "sdk-123");
    CHECK(strip_api_key_prefix("api_keysdk-123") == "api_keysdk-123");
    CHECK(strip_api_key_prefix("api_key") == "api_key");
    CHECK(strip_api_key_prefix("") == "");
}

TEST_CASE("credential_kind_for", "[publisher][core]") {
    CHECK(credential_kind_for(SdkKind::server) == CredentialKind::sdk_key);
    CHECK(credential_kind_for(SdkKind::mobile) == CredentialKind::mobile_key);
    CHECK(credential_kind_for(SdkKind::js) == CredentialKind::env_id);
    CHECK(to_string(CredentialKind::sdk_key) == "SDK key");
    CHECK(to_string(CredentialKind::mobile_key) == "mobile key");
    CHECK(to_string(CredentialKind::env_id) == "client-side ID");
}
