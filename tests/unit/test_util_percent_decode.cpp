#include "core/util/percent_decode.hpp"

#include <catch2/catch.hpp>

using evrelay::util::percent_decode;

TEST_CASE("util::percent_decode", "[util]") {
    CHECK(percent_decode("ch%40nge%20me%3A%2Fnow") == "ch@nge me:/now");
    CHECK(percent_decode("%7e%7E") == "~~");
    CHECK(percent_decode("a%00b") == std::string("a\0b", 3));
    // Not an escape: kept as written.
    CHECK(percent_decode("100%") == "100%");
    CHECK(percent_decode("%4") == "%4");
    CHECK(percent_decode("%zz%41") == "%zzA");
    CHECK(percent_decode("a+b") == "a+b"); // a query's "+" is not a space here
    CHECK(percent_decode("").empty());
}
