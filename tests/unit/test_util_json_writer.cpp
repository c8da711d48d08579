#include "core/util/json_writer.hpp"

#include <catch2/catch.hpp>

#include <string>

using evrelay::util::append_json_string;

namespace {

std::string json(std::string_view text) {
    std::string out;
    append_json_string(out, text);
    return out;
}

} // namespace

TEST_CASE("util::append_json_string", "[util]") {
    SECTION("plain text is quoted") {
        CHECK(json("") == "\"\"");
        CHECK(json("hello world") == "\"hello world\"");
    }
    SECTION("appends to what is already there") {
        std::string out = "[";
        append_json_string(out, "a");
        out += ',';
        append_json_string(out, "b");
        CHECK(out == "[\"a\",\"b\"");
    }
    SECTION("quotes and backslashes") {
        CHECK(json("say \"hi\"") == R"("say \"hi\"")");
        CHECK(json("C:\\dir") == R"("C:\\dir")");
        CHECK(json("/") == R"("/")");
    }
    SECTION("control characters") {
        CHECK(json("a\nb\rc\td\be\ff") == R"("a\nb\rc\td\be\ff")");
        CHECK(json(std::string_view("\x00\x01\x1f", 3)) == R"("\u0000\u0001\u001f")");
        CHECK(json("\x7f") == "\"\x7f\""); // DEL needs no escape
    }
    SECTION("valid UTF-8 is left untouched") {
        const std::string text = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xE2\x80\xA8";
        CHECK(json(text) == "\"" + text + "\"");
    }
    SECTION("ill-formed UTF-8 becomes U+FFFD") {
        CHECK(json("a\xFF"
                   "b") == R"("a\ufffdb")");
        CHECK(json("\xC3") == R"("\ufffd")");                               // truncated sequence
        CHECK(json("\xC0\xAF") == R"("\ufffd\ufffd")");                     // overlong
        CHECK(json("\xED\xA0\x80") == R"("\ufffd\ufffd\ufffd")");           // surrogate
        CHECK(json("\xF4\x90\x80\x80") == R"("\ufffd\ufffd\ufffd\ufffd")"); // > U+10FFFF
    }
}
