#include "core/json/json_canonical.hpp"

#include <catch2/catch.hpp>

using namespace evrelay;

TEST_CASE("canonical_json", "[json]") {
    CHECK(canonical_json(" 1 ") == "1");
    CHECK(canonical_json("1.0") == "1");
    CHECK(canonical_json("10e-1") == "1");
    CHECK(canonical_json("-0.0") == "0");
    CHECK(canonical_json("0.1") == "0.1");
    CHECK(canonical_json("1e400") == "1e400"); // beyond a double: its text
    CHECK(canonical_json(R"("a\u00e9\/b")") == "\"a\xc3\xa9/b\"");
    CHECK(canonical_json("[ true , null ,false ]") == "[true,null,false]");
    CHECK(canonical_json(R"({"b":1,"a":{"d":[1.50],"c":"x"}})") ==
          R"({"a":{"c":"x","d":[1.5]},"b":1})");
    CHECK(canonical_json(R"({"a":1,"b":2,"a":3})") == R"({"a":3,"b":2})"); // last duplicate kept
    CHECK(canonical_json("{}") == "{}");
    CHECK(canonical_json("[]") == "[]");
    CHECK_FALSE(canonical_json("{"));
    CHECK_FALSE(canonical_json("1 2"));
}
