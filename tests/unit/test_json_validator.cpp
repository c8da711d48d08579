#include "tests/support/scratch_dir.hpp"

#include "core/json/json_string.hpp"
#include "core/json/json_validator.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

using evrelay::JsonPart;
using evrelay::JsonType;
using evrelay::JsonValidator;

namespace {

struct Outcome {
    bool ok = false;
    std::size_t offset = 0;
    std::string message;
};

Outcome check(JsonValidator& validator, const std::string& json) {
    // Padding filled with digits and letters: the walk must not read a number or a literal on
    // into it.
    std::string buffer = json + std::string(simdjson::SIMDJSON_PADDING, '7');
    const evrelay::JsonResult<void> valid =
        validator.validate(buffer.data(), std::string_view(buffer.data(), json.size()));
    if (!valid) {
        return Outcome{false, valid.error().offset, valid.error().message};
    }
    return Outcome{true, 0, {}};
}

bool simdjson_accepts(const std::string& json) {
    static simdjson::dom::parser parser;
    return parser.parse(simdjson::padded_string(json)).error() == simdjson::SUCCESS;
}

// simdjson's minified text of a JSON value.
std::string minified(std::string_view json) {
    static simdjson::dom::parser parser;
    auto element = parser.parse(simdjson::padded_string(json));
    REQUIRE(element.error() == simdjson::SUCCESS);
    return simdjson::to_string(element.value());
}

// Checks the parts parts_of() finds inside `part`, at every depth, against simdjson's DOM: the
// same number of elements or members, the same keys, and values that minify alike.
void compare_parts(const JsonValidator& validator, const JsonPart& part,
                   simdjson::dom::element element, std::size_t& compared) {
    ++compared;
    REQUIRE(minified(part.value) == simdjson::to_string(element));
    if (part.type != JsonType::array && part.type != JsonType::object) {
        return;
    }
    std::vector<JsonPart> parts;
    validator.parts_of(part, parts);
    std::size_t n = 0;
    if (part.type == JsonType::array) {
        REQUIRE(element.type() == simdjson::dom::element_type::ARRAY);
        const simdjson::dom::array array = element.get_array().value();
        for (simdjson::dom::element child : array) {
            REQUIRE(n < parts.size());
            CHECK(parts[n].key.empty());
            compare_parts(validator, parts[n++], child, compared);
        }
    } else {
        REQUIRE(element.type() == simdjson::dom::element_type::OBJECT);
        const simdjson::dom::object members = element.get_object().value();
        for (simdjson::dom::key_value_pair member : members) {
            REQUIRE(n < parts.size());
            CHECK(evrelay::json_string_value(parts[n].key) == member.key);
            compare_parts(validator, parts[n++], member.value, compared);
        }
    }
    CHECK(parts.size() == n);
}

} // namespace

TEST_CASE("JsonValidator accepts valid JSON and says where the root's parts are", "[json]") {
    JsonValidator validator;
    // The text with simdjson's padding after it (the validator may read into it); the views
    // are into this copy.
    std::string padded;
    auto validate = [&](const std::string& json) {
        padded = json + std::string(simdjson::SIMDJSON_PADDING, ' ');
        return validator.validate(padded.data(), std::string_view(padded.data(), json.size()))
            .has_value();
    };

    SECTION("an array of mixed values") {
        const std::string json = " [ {\"a\":[1,2]} , \"s\\\"]\" ,-0.5e+3,true,false,null,[],{} ] ";
        REQUIRE(validate(json));
        CHECK(validator.root_type() == JsonType::array);
        CHECK(validator.root() == json.substr(1, json.size() - 2));
        CHECK(validator.root().data() == padded.data() + 1);
        const std::vector<JsonPart>& parts = validator.parts();
        REQUIRE(parts.size() == 8);
        CHECK(parts[0].value == "{\"a\":[1,2]}");
        CHECK(parts[0].type == JsonType::object);
        CHECK(parts[1].value == "\"s\\\"]\"");
        CHECK(parts[1].type == JsonType::string);
        CHECK(parts[2].value == "-0.5e+3");
        CHECK(parts[2].type == JsonType::number);
        CHECK(parts[3].type == JsonType::boolean);
        CHECK(parts[5].value == "null");
        CHECK(parts[5].type == JsonType::null);
        CHECK(parts[6].value == "[]");
        CHECK(parts[7].value == "{}");
        std::vector<JsonPart> inner;
        validator.parts_of(parts[0], inner);
        REQUIRE(inner.size() == 1);
        CHECK(inner[0].key == "a");
        CHECK(inner[0].value == "[1,2]");
        std::vector<JsonPart> numbers;
        validator.parts_of(inner[0], numbers);
        REQUIRE(numbers.size() == 2);
        CHECK(numbers[1].value == "2");
        CHECK(numbers[1].type == JsonType::number);
    }
    SECTION("an object's members with their keys as written") {
        const std::string json = "{\"v\":1, \"k\\u0041\" : \"x\" ,\"e\":[{\"kind\":\"a\"}, {}]}";
        REQUIRE(validate(json));
        CHECK(validator.root_type() == JsonType::object);
        const std::vector<JsonPart>& parts = validator.parts();
        REQUIRE(parts.size() == 3);
        CHECK(parts[0].key == "v");
        CHECK(parts[0].value == "1");
        CHECK(parts[1].key == "k\\u0041");
        CHECK(parts[1].value == "\"x\"");
        CHECK(parts[2].key == "e");
        std::vector<JsonPart> events;
        validator.parts_of(parts[2], events);
        REQUIRE(events.size() == 2);
        CHECK(events[0].value == "{\"kind\":\"a\"}");
        CHECK(events[1].value == "{}");
        CHECK(events[1].key.empty());
    }
    SECTION("scalar roots, at the very end of the text") {
        for (const std::string json : {"1", "-0", "true", "null", "\"x\"", " 12.5e-3 "}) {
            INFO(json);
            REQUIRE(validate(json));
            CHECK(validator.parts().empty());
        }
    }
    SECTION("RFC 8259 numbers simdjson's DOM refuses to convert") {
        const std::string json = "[1e400, 123456789012345678901234567890]";
        REQUIRE(validate(json));
    }
}

TEST_CASE("JsonValidator rejections name the problem and its offset", "[json]") {
    JsonValidator validator;
    auto rejected = [&](const std::string& json, std::size_t offset, std::string_view words) {
        INFO(json);
        const Outcome outcome = check(validator, json);
        CHECK_FALSE(outcome.ok);
        CHECK(outcome.offset == offset);
        CHECK_THAT(outcome.message, Catch::Contains(std::string(words)));
    };
    rejected("", 0, "Empty");
    rejected("[1,2", 4, "ends early");
    rejected("[1 2]", 3, "expected ',' or ']'");
    rejected("{\"a\" 1}", 5, "expected ':'");
    rejected("{1:2}", 1, "member name");
    rejected("{\"a\":1,}", 7, "member name");
    rejected("[01]", 2, "invalid number");
    rejected("[1.]", 3, "invalid number");
    rejected("[-]", 2, "invalid number");
    rejected("[1e]", 3, "invalid number");
    rejected("[1x]", 2, "invalid number");
    rejected("[tru]", 1, "literal");
    rejected("[truex]", 5, "literal");
    rejected("[1\"\"]", 2, "invalid number");
    rejected("nul", 0, "literal");
    rejected("[\"a\\x\"]", 4, "escape");
    rejected("[\"\\u12g4\"]", 6, "escape");
    rejected("[\"tab\there\"]", 5, "escaped");
    rejected("[\"ab\xff\"]", 4, "UTF-8");
    rejected("[\"abc", 5, "never closed");
    rejected("[1] [2]", 4, "after the JSON value");
    rejected("[1],", 3, "after the JSON value");
    rejected(std::string(1025, '[') + std::string(1025, ']'), 1024, "1024 levels");
    rejected("[@]", 1, "expected a value");
}

TEST_CASE("JsonValidator agrees with simdjson's DOM parser on mutated SDK payloads", "[json]") {
    const std::string payload =
        evrelay::test::read_file(evrelay::test::fixture_path("bench-payload-50-events.json"));
    JsonValidator validator;
    REQUIRE(check(validator, payload).ok);
    // Each byte of a piece of the payload replaced by bytes that matter to JSON, and pieces cut
    // short: every verdict must be the DOM parser's (whose only extra refusals are number
    // conversions, which these mutations do not produce from the payload's integers).
    const std::string piece = payload.substr(0, 1200);
    const std::string replacements = "{}[],:\"\\ 0-.eEtfnu\x01\x80\xff";
    std::size_t compared = 0;
    for (std::size_t at = 0; at < piece.size(); ++at) {
        for (const char r : replacements) {
            std::string mutated = piece;
            mutated[at] = r;
            for (const std::string& json : {mutated, mutated.substr(0, at + 1)}) {
                const bool expected = simdjson_accepts(json);
                const Outcome outcome = check(validator, json);
                INFO("byte " << at << " -> " << static_cast<int>(r) << ": " << json);
                REQUIRE(outcome.ok == expected);
                if (!outcome.ok) {
                    CHECK(outcome.offset <= json.size());
                    CHECK_FALSE(outcome.message.empty());
                }
                ++compared;
            }
        }
    }
    CHECK(compared > 50000);
}

TEST_CASE("JsonValidator agrees with simdjson's DOM parser on random JSON-ish text", "[json]") {
    JsonValidator validator;
    std::mt19937 random(20261201);
    const std::string alphabet = "{}[],:\" \\0123-.eE+truefalsnl\x01\xc3\xa9";
    std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
    std::uniform_int_distribution<std::size_t> length(0, 12);
    std::size_t accepted = 0;
    for (int n = 0; n < 200000; ++n) {
        std::string json;
        for (std::size_t i = length(random); i > 0; --i) {
            json += alphabet[pick(random)];
        }
        const bool expected = simdjson_accepts(json);
        INFO(json);
        REQUIRE(check(validator, json).ok == expected);
        accepted += expected ? 1 : 0;
    }
    CHECK(accepted > 100); // the comparison saw valid texts too, not only garbage
}

TEST_CASE("JsonValidator::parts_of agrees with simdjson's DOM at every depth", "[json]") {
    JsonValidator validator;
    simdjson::dom::parser dom;
    std::size_t compared = 0;
    auto compare = [&](const std::string& json) {
        INFO(json);
        REQUIRE(check(validator, json).ok);
        // check() validated a copy that is gone: validate the caller's padded text again.
        const simdjson::padded_string padded(json);
        REQUIRE(validator.validate(padded.data(), std::string_view(padded.data(), json.size())));
        auto element = dom.parse(padded);
        REQUIRE(element.error() == simdjson::SUCCESS);
        JsonPart root;
        root.value = validator.root();
        root.type = validator.root_type();
        if (root.type == JsonType::array || root.type == JsonType::object) {
            // The root's own parts come from validate(); their insides from parts_of().
            std::vector<simdjson::dom::element> children;
            if (root.type == JsonType::array) {
                const simdjson::dom::array array = element.value().get_array().value();
                for (auto child : array) {
                    children.push_back(child);
                }
            } else {
                const simdjson::dom::object members = element.value().get_object().value();
                for (auto member : members) {
                    children.push_back(member.value);
                }
            }
            REQUIRE(validator.parts().size() == children.size());
            for (std::size_t n = 0; n < children.size(); ++n) {
                compare_parts(validator, validator.parts()[n], children[n], compared);
            }
        }
    };
    compare(evrelay::test::read_file(evrelay::test::fixture_path("bench-payload-50-events.json")));
    compare(R"({"a":{"b":[[],{},[1,[2,{"c":"]"}]]],"d\u0041":{"e":{}}},"f":[{"g":[true,null]}]})");
    compare(R"([[[[[]]]],{"x":[{"y":{"z":[0,1e5,"s"]}}]},"t"])");
    // Random nested values.
    std::mt19937 random(20261202);
    std::function<std::string(int)> value = [&](int depth) -> std::string {
        const int kind = static_cast<int>(random() % (depth > 5 ? 4 : 6));
        switch (kind) {
        case 0:
            return std::to_string(random() % 1000);
        case 1:
            return "\"s" + std::to_string(random() % 10) + "\\\"]\"";
        case 2:
            return random() % 2 ? "true" : "null";
        case 3:
            return "-1.5e3";
        case 4: {
            std::string out = "[";
            for (int n = static_cast<int>(random() % 4); n > 0; --n) {
                out += value(depth + 1) + (n > 1 ? " , " : "");
            }
            return out + "]";
        }
        default: {
            std::string out = "{";
            for (int n = static_cast<int>(random() % 4); n > 0; --n) {
                out += "\"k" + std::to_string(n) + "\" : " + value(depth + 1) + (n > 1 ? "," : "");
            }
            return out + "}";
        }
        }
    };
    for (int n = 0; n < 3000; ++n) {
        compare(random() % 2 ? "[" + value(1) + "," + value(1) + "]"
                             : "{\"a\":" + value(1) + ",\"b\":" + value(1) + "}");
    }
    CHECK(compared > 10000);
}
