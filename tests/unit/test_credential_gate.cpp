#include "core/upstream/credential_gate.hpp"

#include <catch2/catch.hpp>

using namespace evrelay;

TEST_CASE("CredentialGate closes a rejected pair until its credential changes", "[sender]") {
    CredentialGate gate;

    SECTION("everything is admitted until something is rejected") {
        CHECK(gate.admits("production", SdkKind::server, "sdk-1"));
        CHECK(gate.admits("staging", SdkKind::mobile, "mob-1"));
    }
    SECTION("a rejected credential is closed for its pair only") {
        CHECK(gate.reject("production", SdkKind::server, "sdk-1"));
        CHECK_FALSE(gate.admits("production", SdkKind::server, "sdk-1"));
        CHECK_FALSE(gate.admits("production", SdkKind::server, "sdk-1")); // stays closed
        CHECK(gate.admits("production", SdkKind::mobile, "mob-1"));
        CHECK(gate.admits("staging", SdkKind::server, "sdk-1"));
    }
    SECTION("another credential for the pair opens it again (a reload)") {
        gate.reject("production", SdkKind::server, "sdk-1");
        CHECK(gate.admits("production", SdkKind::server, "sdk-2"));
        // Opened for good: the old credential is no longer remembered as closed.
        CHECK(gate.admits("production", SdkKind::server, "sdk-1"));
    }
    SECTION("reject() is true only the first time a credential of a pair is rejected") {
        CHECK(gate.reject("production", SdkKind::server, "sdk-1"));
        CHECK_FALSE(gate.reject("production", SdkKind::server, "sdk-1"));
        CHECK(gate.reject("production", SdkKind::server, "sdk-2"));
        // Back to the first credential (a reload back): closed again, but not news.
        CHECK_FALSE(gate.reject("production", SdkKind::server, "sdk-1"));
        CHECK_FALSE(gate.admits("production", SdkKind::server, "sdk-1"));
        CHECK(gate.reject("production", SdkKind::js, "sdk-1"));
    }
}
