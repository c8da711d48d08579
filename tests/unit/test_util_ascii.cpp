#include "core/util/ascii.hpp"

#include <catch2/catch.hpp>

using namespace evrelay::util;

TEST_CASE("ascii: trim takes JSON's four blanks from both ends, nothing inside", "[util][ascii]") {
    CHECK(trim(" \t\r\n a b \n\r\t ") == "a b");
    CHECK(trim("") == "");
    CHECK(trim(" \t\n\r") == "");
    CHECK(trim("\va\f") == "\va\f"); // vertical tab and form feed are not JSON blanks
    CHECK(trim_left("  x  ") == "x  ");
    CHECK(trim_right("  x  ") == "  x");
}

TEST_CASE("ascii: trim with HTTP's optional whitespace keeps CR and LF", "[util][ascii]") {
    CHECK(trim(" \t4\t ", is_ows) == "4");
    CHECK(trim("\r4\n", is_ows) == "\r4\n");
}

TEST_CASE("ascii: is_blank", "[util][ascii]") {
    CHECK(is_blank(""));
    CHECK(is_blank(" \r\n\t"));
    CHECK_FALSE(is_blank(" x "));
}

TEST_CASE("ascii: case-insensitive comparisons touch ASCII letters only", "[util][ascii]") {
    CHECK(iequals("Content-Length", "content-length"));
    CHECK_FALSE(iequals("Content-Length", "content-lengt"));
    CHECK_FALSE(iequals("a[", "A{")); // '[' and '{' differ by 0x20 but are not letters
    CHECK(istarts_with("X-LaunchDarkly-Event-Schema", "x-launchdarkly-"));
    CHECK_FALSE(istarts_with("X-Launch", "x-launchdarkly-"));
    CHECK(to_lower('Q') == 'q');
    CHECK(to_lower('@') == '@');
    CHECK(is_digit('0'));
    CHECK(is_digit('9'));
    CHECK_FALSE(is_digit('a'));
}
