#include "core/util/byte_size.hpp"

#include <catch2/catch.hpp>

#include <limits>

using evrelay::ErrorKind;
using evrelay::util::format_byte_size;
using evrelay::util::parse_byte_size;

namespace {

std::size_t parsed(std::string_view text) {
    auto result = parse_byte_size(text);
    INFO("text: " << text << (result ? "" : " error: " + result.error().message));
    REQUIRE(result.has_value());
    return *result;
}

} // namespace

TEST_CASE("util::parse_byte_size", "[util]") {
    SECTION("byte counts and binary suffixes") {
        CHECK(parsed("1048576") == 1048576u);
        CHECK(parsed("0") == 0u);
        CHECK(parsed("812B") == 812u);
        CHECK(parsed("512KiB") == 512u * 1024);
        CHECK(parsed("10MiB") == 10u << 20);
        CHECK(parsed("4GiB") == std::size_t{4} << 30);
        CHECK(parsed("2TiB") == std::size_t{2} << 40);
        CHECK(parsed("1.5GiB") == std::size_t{3} << 29);
    }
    SECTION("whitespace and case") {
        CHECK(parsed("10 MiB") == 10u << 20);
        CHECK(parsed(" 512\tKiB ") == 512u * 1024);
        CHECK(parsed("10mib") == 10u << 20);
        CHECK(parsed("7 B") == 7u);
    }
    SECTION("decimal suffixes ask for the binary form") {
        for (const char* text : {"10MB", "10M", "10 mb", "1G", "5KB"}) {
            auto result = parse_byte_size(text);
            INFO("text: " << text);
            REQUIRE_FALSE(result.has_value());
            CHECK(result.error().kind == ErrorKind::config);
            CHECK_THAT(result.error().message, Catch::Contains(text) && Catch::Contains("iB"));
        }
        CHECK_THAT(parse_byte_size("10MB").error().message, Catch::Contains("10MiB"));
    }
    SECTION("garbage, negatives and fractional bytes are rejected") {
        for (const char* text :
             {"", "abc", "MiB", "-5", "-1MiB", "10 XiB", "1.5", "1.5B", "1,5MiB"}) {
            auto result = parse_byte_size(text);
            INFO("text: '" << text << "'");
            REQUIRE_FALSE(result.has_value());
            CHECK(result.error().kind == ErrorKind::config);
            CHECK_THAT(result.error().message, Catch::Contains("'" + std::string(text) + "'"));
        }
    }
    SECTION("overflow is detected") {
        CHECK(parsed("18446744073709551615") == std::numeric_limits<std::size_t>::max());
        for (const char* text :
             {"18446744073709551616", "99999999999999999999999", "16777216TiB", "17179869184GiB"}) {
            auto result = parse_byte_size(text);
            INFO("text: " << text);
            REQUIRE_FALSE(result.has_value());
            CHECK_THAT(result.error().message, Catch::Contains("too large"));
        }
    }
}

TEST_CASE("util::format_byte_size", "[util]") {
    CHECK(format_byte_size(0) == "0 B");
    CHECK(format_byte_size(812) == "812 B");
    CHECK(format_byte_size(1024) == "1 KiB");
    CHECK(format_byte_size(1280) == "1.25 KiB");
    CHECK(format_byte_size(4u << 20) == "4 MiB");
    CHECK(format_byte_size(std::size_t{3} << 29) == "1.5 GiB");
    CHECK(parsed(format_byte_size(std::size_t{3} << 29)) == std::size_t{3} << 29);
}
