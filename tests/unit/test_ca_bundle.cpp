#include "tests/support/scratch_dir.hpp"
#include "tests/support/test_certificates.hpp"

#include "core/upstream/ca_bundle.hpp"

#include <catch2/catch.hpp>

#include <filesystem>

using namespace evrelay;
using evrelay::test::ScratchDir;

TEST_CASE("ca_bundle_with adds every file to libcurl's default bundle", "[upstream]") {
    ScratchDir dir;
    const auto certificates = test::make_test_certificates(dir);
    const std::string first = test::read_file(certificates.other_ca);
    const std::string second = test::read_file(certificates.ca);

    const auto bundle = ca_bundle_with({certificates.other_ca.string(), certificates.ca.string()});
    REQUIRE(bundle);
    const auto at_first = bundle->find(first);
    const auto at_second = bundle->find(second);
    CHECK(at_first != std::string::npos);
    CHECK(at_second != std::string::npos);
    CHECK(at_first < at_second);
    // The system's CAs come first when there are any (Debian's ca-certificates package).
    if (std::filesystem::exists("/etc/ssl/certs/ca-certificates.crt")) {
        CHECK(at_first > 0);
    }
}

TEST_CASE("ca_bundle_with names the file it cannot use", "[upstream]") {
    ScratchDir dir;
    const auto certificates = test::make_test_certificates(dir);
    SECTION("missing") {
        const auto bundle = ca_bundle_with({certificates.ca.string(), (dir / "nope.pem").string()});
        REQUIRE_FALSE(bundle);
        CHECK(bundle.error().kind == ErrorKind::config);
        CHECK_THAT(bundle.error().message,
                   Catch::Contains("nope.pem") && Catch::Contains("cannot be read"));
    }
    SECTION("no certificate in it (a key, an empty file)") {
        for (const auto& path : {certificates.server_key, dir.write("empty.pem", "")}) {
            INFO(path);
            const auto bundle = ca_bundle_with({path.string()});
            REQUIRE_FALSE(bundle);
            CHECK_THAT(bundle.error().message,
                       Catch::Contains(path.string()) && Catch::Contains("no PEM certificate"));
        }
    }
}
