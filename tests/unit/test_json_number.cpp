#include "core/json/json_number.hpp"

#include <catch2/catch.hpp>

using namespace evrelay;

TEST_CASE("json_number_as_int64", "[json]") {
    CHECK(json_number_as_int64("1795736416400") == 1795736416400);
    CHECK(json_number_as_int64("-7") == -7);
    CHECK(json_number_as_int64("1.7e+12") == 1700000000000);
    CHECK(json_number_as_int64("3.0") == 3);
    CHECK(json_number_as_int64("9223372036854775807") == INT64_MAX);
    CHECK_FALSE(json_number_as_int64("1.5"));
    CHECK_FALSE(json_number_as_int64("9223372036854775808"));
    CHECK_FALSE(json_number_as_int64("1e400"));
}

TEST_CASE("json_number_as_double", "[json]") {
    CHECK(json_number_as_double("1.5") == 1.5);
    CHECK(json_number_as_double("-2e3") == -2000.0);
    CHECK_FALSE(json_number_as_double("1e400"));
}
