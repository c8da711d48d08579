#include "core/json/json_scan.hpp"

#include <catch2/catch.hpp>

using namespace evrelay;

TEST_CASE("skip_json_string", "[json]") {
    CHECK(skip_json_string(R"("abc",1)", 0) == 5);
    CHECK(skip_json_string(R"("a\"b",1)", 0) == 6);
    CHECK(skip_json_string(R"("a\\",1)", 0) == 5);    // escaped backslash, then the quote
    CHECK(skip_json_string(R"("a\\\"b",1)", 0) == 8); // \\ then \" inside
    CHECK(skip_json_string(R"("unterminated)", 0) == 13);
}

TEST_CASE("array_element_spans", "[json]") {
    SECTION("objects with nested strings, brackets and escapes") {
        const std::string json = R"( [ {"a":"x,]}","b":[1,{"c":2}]} ,{"k":"q\"}"} , {} ] )";
        const auto out = array_element_spans(json);
        REQUIRE(out);
        CHECK(*out == std::vector<std::string_view>{R"({"a":"x,]}","b":[1,{"c":2}]})",
                                                    R"({"k":"q\"}"})", "{}"});
    }
    SECTION("scalars and an empty array") {
        const auto scalars = array_element_spans("[1, true ,\"s\",null]");
        REQUIRE(scalars);
        CHECK(*scalars == std::vector<std::string_view>{"1", "true", "\"s\"", "null"});
        const auto empty = array_element_spans("[ ]");
        REQUIRE(empty);
        CHECK(empty->empty());
    }
    SECTION("not an array") {
        CHECK_FALSE(array_element_spans(R"({"a":1})"));
    }
}

TEST_CASE("object_member_span", "[json]") {
    const std::string json =
        R"({"v":1, "env" : "pro\"d","events":[{"kind":"x","events":[]}],"tags":"a b","n":-1.5e3})";
    CHECK(object_member_span(json, "v") == "1");
    CHECK(object_member_span(json, "env") == R"("pro\"d")");
    CHECK(object_member_span(json, "events") == R"([{"kind":"x","events":[]}])");
    CHECK(object_member_span(json, "tags") == R"("a b")");
    CHECK(object_member_span(json, "n") == "-1.5e3");
    CHECK(object_member_span(json, "missing").empty());
    CHECK(object_member_span("[1]", "v").empty());
}

TEST_CASE("append_compact_json", "[json]") {
    std::string out = "[";
    append_compact_json(out, "{ \"a b\" : [ 1 ,\t2 ],\n \"c\":\"x \\\" y\" }");
    CHECK(out == R"([{"a b":[1,2],"c":"x \" y"})");
    out.clear();
    append_compact_json(out, R"({"already":"compact"})");
    CHECK(out == R"({"already":"compact"})");
}
