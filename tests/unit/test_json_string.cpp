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

TEST_CASE("json_string_view decodes only when it must", "[json]") {
    using evrelay::json_string_view;
    std::string scratch;
    const std::string_view plain = "no escapes here";
    CHECK(json_string_view(plain, scratch).data() == plain.data());
    CHECK(scratch.empty());
    CHECK(json_string_view(R"(a\"b\u00e9)", scratch) == "a\"b\xc3\xa9");
    CHECK(scratch == "a\"b\xc3\xa9");
}
