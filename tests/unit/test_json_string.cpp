#include "core/json/json_string.hpp"

#include <catch2/catch.hpp>

TEST_CASE("json_string_value decodes escapes", "[json]") {
    using evrelay::json_string_value;
    CHECK(json_string_value("plain") == "plain");
    CHECK(json_string_value(R"(a\"b\\c\/d\n\t)") == "a\"b\\c/d\n\t");
    CHECK(json_string_value(R"(\u0041\u00e9\u20ac)") == "A\xc3\xa9\xe2\x82\xac");
    CHECK(json_string_value(R"(\ud83d\ude00)") == "\xf0\x9f\x98\x80");
    CHECK(json_string_value(R"(\udc00x)") == "\xef\xbf\xbdx"); // a lone surrogate: U+FFFD
}
