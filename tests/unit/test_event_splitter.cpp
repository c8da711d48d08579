#include "tests/support/scratch_dir.hpp"

#include "core/json/event_splitter.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <string>
#include <vector>

using evrelay::EventSplitter;
using evrelay::JsonError;
using evrelay::JsonResult;

namespace {

// The raw bytes of every array "body" in the SDK request captures (tests/fixtures/*.ndjson).
std::vector<std::string> fixture_array_bodies() {
    std::vector<std::string> bodies;
    simdjson::ondemand::parser parser;
    for (const auto& entry : std::filesystem::directory_iterator(
             evrelay::test::fixture_path("README.md").parent_path())) {
        if (entry.path().extension() != ".ndjson") {
            continue;
        }
        const simdjson::padded_string content =
            simdjson::padded_string::load(entry.path().string());
        simdjson::ondemand::document_stream stream = parser.iterate_many(content);
        for (auto doc : stream) {
            simdjson::ondemand::value body;
            if (doc.find_field_unordered("body").get(body) != simdjson::SUCCESS) {
                continue;
            }
            if (body.type().value() != simdjson::ondemand::json_type::array) {
                continue;
            }
            bodies.emplace_back(body.raw_json_token());
            // raw_json_token only covers the first token of an array; take the whole value.
            simdjson::ondemand::array array = body.get_array().value();
            bodies.back() = std::string(array.raw_json().value());
        }
    }
    return bodies;
}

std::string minified(std::string_view json) {
    simdjson::dom::parser parser;
    return simdjson::minify(parser.parse(simdjson::padded_string(json)).value());
}

bool inside(std::string_view outer, std::string_view inner) {
    return inner.data() >= outer.data() &&
           inner.data() + inner.size() <= outer.data() + outer.size();
}

} // namespace

TEST_CASE("EventSplitter::split_array", "[reader]") {
    EventSplitter splitter;
    std::vector<std::string_view> out;

    SECTION("the 50-event benchmark payload, exact bytes") {
        const std::string json =
            evrelay::test::read_file(evrelay::test::fixture_path("bench-payload-50-events.json"));
        const std::string_view body = std::string_view(json).substr(0, json.find_last_of(']') + 1);
        REQUIRE(splitter.split_array(json, json.size(), out));
        REQUIRE(out.size() == 50);
        // The body is compact JSON: the elements joined by ',' rebuild it byte for byte.
        std::string rebuilt = "[";
        for (std::size_t i = 0; i < out.size(); ++i) {
            CHECK(inside(json, out[i]));
            rebuilt += out[i];
            rebuilt += i + 1 < out.size() ? "," : "]";
        }
        CHECK(rebuilt == body);
    }

    SECTION("every array body of the SDK captures") {
        const std::vector<std::string> bodies = fixture_array_bodies();
        REQUIRE(bodies.size() >= 20);
        simdjson::dom::parser dom;
        for (const std::string& body : bodies) {
            out.clear();
            REQUIRE(splitter.split_array(body, body.size(), out));
            simdjson::dom::array array = dom.parse(body).get_array().value();
            REQUIRE(out.size() == array.size());
            std::size_t i = 0;
            for (simdjson::dom::element element : array) {
                CHECK(inside(body, out[i]));
                CHECK(minified(out[i]) == simdjson::minify(element));
                ++i;
            }
        }
    }

    SECTION("pretty-printed over lines: views are trimmed and point into the input") {
        const std::string json = "\n [\n  {\"kind\": \"custom\",\n   \"key\": \"a\"}  ,\r\n"
                                 "  {\"kind\":\"feature\", \"value\": [1, {\"x\": \"]\"}]}\n\t]\n";
        const std::string padded = json + std::string(64, ' ');
        for (std::size_t capacity : {json.size(), padded.size()}) {
            const std::string_view input = capacity == json.size()
                                               ? std::string_view(json)
                                               : std::string_view(padded).substr(0, json.size());
            out.clear();
            REQUIRE(splitter.split_array(input, capacity, out));
            REQUIRE(out.size() == 2);
            CHECK(out[0] == "{\"kind\": \"custom\",\n   \"key\": \"a\"}");
            CHECK(out[1] == "{\"kind\":\"feature\", \"value\": [1, {\"x\": \"]\"}]}");
            CHECK(inside(input, out[0]));
            CHECK(inside(input, out[1]));
        }
    }

    SECTION("an empty array") {
        REQUIRE(splitter.split_array("[ ]", 3, out));
        CHECK(out.empty());
    }

    SECTION("appends after what the vector holds") {
        out.push_back("x");
        REQUIRE(splitter.split_array("[{},{}]", 7, out));
        CHECK(out.size() == 3);
        CHECK(out[1] == "{}");
    }
}

TEST_CASE("EventSplitter::split_array rejections", "[reader]") {
    EventSplitter splitter;
    std::vector<std::string_view> out{"kept"};
    JsonError error;
    auto reject = [&](std::string_view json) {
        JsonResult<void> split = splitter.split_array(json, json.size(), out);
        CHECK(out.size() == 1);
        if (split) {
            return false;
        }
        error = split.error();
        return true;
    };

    SECTION("an object root") {
        REQUIRE(reject("  {\"kind\":\"custom\"}"));
        CHECK(error.offset == 2);
        CHECK(error.message == "expected a JSON array of event objects, got an object");
    }
    SECTION("a string root") {
        REQUIRE(reject("\"events\""));
        CHECK(error.message == "expected a JSON array of event objects, got a string");
    }
    SECTION("an element that is not an object") {
        REQUIRE(reject("[{\"a\":1},\n {\"b\":2}, \"x\", {}]"));
        CHECK(error.offset == 20);
        CHECK(error.message == "element 2 is a string, not an object");
        REQUIRE(reject("[[1]]"));
        CHECK(error.offset == 1);
        CHECK(error.message == "element 0 is an array, not an object");
        REQUIRE(reject("[{}, null]"));
        CHECK(error.message == "element 1 is null, not an object");
    }
    SECTION("truncated JSON") {
        const std::string json = "[{\"kind\":\"custom\"},{\"kind\":\"cus";
        REQUIRE(reject(json));
        CHECK(error.offset == json.size());
        CHECK_FALSE(error.message.empty());
    }
    SECTION("invalid UTF-8") {
        REQUIRE(reject("[{\"key\":\"ab\xff\"}]"));
        CHECK(error.offset == 11);
        REQUIRE(reject("[{\"key\":\"\xe2\x82\"}]")); // a 3-byte sequence cut short
        CHECK(error.offset == 9);
        REQUIRE(reject("[{\"key\":\"\xc0\xaf\"}]")); // an overlong '/'
        CHECK(error.offset == 9);
        REQUIRE(reject("[{\"key\":\"\xed\xa0\x80\"}]")); // a UTF-16 surrogate
        CHECK(error.offset == 9);
    }
    SECTION("trailing garbage") {
        REQUIRE(reject("[{}] x"));
        CHECK(error.offset == 5);
        REQUIRE(reject("[{}][{}]"));
        CHECK(error.offset == 4);
    }
    SECTION("syntax errors inside an element") {
        REQUIRE(reject("[{\"a\":1,}]"));
        CHECK(error.offset == 8);
        REQUIRE(reject("[{\"a\":01}]"));
        CHECK(error.offset == 7);
        REQUIRE(reject("[{\"a\":\"tab\there\"}]"));
        CHECK(error.offset == 10);
    }
    SECTION("empty input") {
        REQUIRE(reject(""));
        CHECK(error.offset == 0);
    }
}

TEST_CASE("EventSplitter::validate_object", "[reader]") {
    EventSplitter splitter;
    CHECK(splitter.validate_object("{\"kind\":\"custom\",\"key\":\"k\"}", 27));
    CHECK(splitter.validate_object(" {} ", 4));

    auto rejected = [&](std::string_view json) {
        const evrelay::JsonResult<void> valid = splitter.validate_object(json, json.size());
        REQUIRE_FALSE(valid);
        return valid.error();
    };
    const JsonError array_root = rejected("[{}]");
    CHECK(array_root.message == "expected a JSON object, got an array");
    CHECK(array_root.offset == 0);
    CHECK(rejected(" [{}]").offset == 1);
    CHECK(rejected("{\"a\":tru}").offset == 5);
    CHECK(rejected("{\"a\":1} {}").offset == 8);
    CHECK(rejected("{\"a\":\"\x80\"}").offset == 6);
}

TEST_CASE("EventSplitter::validate_json", "[reader]") {
    EventSplitter splitter;
    CHECK(splitter.validate_json("[1,\"a\",{}]", 10));
    CHECK(splitter.validate_json(" \"text\" ", 8));
    const evrelay::JsonResult<void> truncated = splitter.validate_json("[1,2", 4);
    REQUIRE_FALSE(truncated);
    CHECK(truncated.error().offset == 4);
    CHECK_THAT(truncated.error().message, Catch::Contains("ends early"));
}

TEST_CASE("EventSplitter::kind_of", "[reader]") {
    EventSplitter splitter;
    CHECK(splitter.kind_of("{\"creationDate\":1,\"kind\":\"feature\"}") == "feature");
    CHECK(splitter.kind_of("{\"context\":{\"kind\":\"user\"},\"kind\":\"identify\"}") ==
          "identify");
    CHECK(splitter.kind_of("{\"key\":\"x\"}").empty());
    CHECK(splitter.kind_of("{\"kind\":3}").empty());
}
