#include "core/flags/flag_data.hpp"
#include "core/json/json_canonical.hpp"

#include <catch2/catch.hpp>

using namespace evrelay;

namespace {

// What GET /sdk/latest-all answers (and the file data source reads), trimmed to a few members
// of each flag beside the ones FlagInfo holds.
const char* const k_flag_data = R"({
  "flags": {
    "checkout": {"key": "checkout", "version": 12, "on": true,
      "variations": [ {"layout": "list", "columns": 2}, {"layout":"grid","columns":3} ],
      "fallthrough": {"variation": 0}, "trackEvents": true,
      "trackEventsFallthrough": false, "debugEventsUntilDate": 1795736416400,
      "rules": [ {"id": "rule-a", "variation": 1, "clauses": [], "trackEvents": false},
                 {"variation": 0, "clauses": [], "trackEvents": true} ] },
    "plain": {"key": "plain", "version": 3, "variations": [true, false],
      "trackEvents": false, "trackEventsFallthrough": true, "debugEventsUntilDate": null,
      "rules": []},
    "bare": {"key": "bare"}
  },
  "segments": {"beta": {"key": "beta", "version": 1}, "staff": {"key": "staff", "version": 2}}
})";

std::string error_of(std::string_view json) {
    Result<FlagData> data = parse_flag_data(json);
    REQUIRE_FALSE(data);
    CHECK(data.error().kind == ErrorKind::invalid_input);
    return data.error().message;
}

} // namespace

TEST_CASE("parse_flag_data reads what the summariser needs of each flag", "[flag_data]") {
    Result<FlagData> data = parse_flag_data(k_flag_data);
    REQUIRE(data);
    CHECK(data->flags.size() == 3);
    CHECK(data->segment_count == 2);

    const FlagInfo* checkout = data->find("checkout");
    REQUIRE(checkout != nullptr);
    CHECK(checkout->version == 12);
    CHECK(checkout->variations == std::vector<std::string>{R"({"layout":"list","columns":2})",
                                                           R"({"layout":"grid","columns":3})"});
    CHECK(checkout->track_events);
    CHECK_FALSE(checkout->track_events_fallthrough);
    CHECK(checkout->rule_track_events == std::vector<bool>{false, true});
    CHECK(checkout->rule_ids == std::vector<std::string>{"rule-a", ""});
    CHECK(checkout->debug_events_until_date == 1795736416400);

    const FlagInfo* plain = data->find("plain");
    REQUIRE(plain != nullptr);
    CHECK(plain->version == 3);
    CHECK(plain->variations == std::vector<std::string>{"true", "false"});
    CHECK_FALSE(plain->track_events);
    CHECK(plain->track_events_fallthrough);
    CHECK(plain->rule_track_events.empty());
    CHECK_FALSE(plain->debug_events_until_date);

    const FlagInfo* bare = data->find("bare");
    REQUIRE(bare != nullptr);
    CHECK(bare->version == 0);
    CHECK(bare->variations.empty());
    CHECK_FALSE(bare->track_events);

    CHECK(data->find("missing") == nullptr);
}

TEST_CASE("parse_flag_data: either member may be missing", "[flag_data]") {
    for (const char* json : {"{}", R"({"segments":{}})", R"({"flags":{}})",
                             R"({"flags":null,"segments":null,"other":[1]})"}) {
        Result<FlagData> data = parse_flag_data(json);
        REQUIRE(data);
        CHECK(data->flags.empty());
        CHECK(data->segment_count == 0);
    }
}

TEST_CASE("parse_flag_data: flagValues become one-variation flags", "[flag_data]") {
    Result<FlagData> data =
        parse_flag_data(R"({"flagValues":{"banner":"on","limit":10,"theme":{"dark":true}},
                            "flags":{"other":{"version":4,"variations":[1,2]}}})");
    REQUIRE(data);
    CHECK(data->flags.size() == 4);
    const FlagInfo* limit = data->find("limit");
    REQUIRE(limit != nullptr);
    CHECK(limit->version == 1);
    CHECK(limit->variations == std::vector<std::string>{"10"});
    CHECK_FALSE(limit->track_events);
    REQUIRE(data->find("theme") != nullptr);
    CHECK(data->find("theme")->variations == std::vector<std::string>{R"({"dark":true})"});
    CHECK(data->find("other")->version == 4);

    CHECK(error_of(R"({"flags":{"banner":{"version":2}},"flagValues":{"banner":"on"}})") ==
          R"(at byte 57: flag "banner" is in both "flags" and "flagValues")");
}

TEST_CASE("parse_flag_data errors say what is wrong and where", "[flag_data]") {
    SECTION("not JSON: the byte where it goes wrong") {
        const std::string message = error_of(R"({"flags":{"a":{"version":1,}}})");
        CHECK(message.rfind("at byte 27: ", 0) == 0);
    }
    SECTION("the root is not an object") {
        CHECK(error_of(" [1]") ==
              "at byte 1: flag data is an array, not an object ({\"flags\":{…},\"segments\":{…}})");
    }
    SECTION("a member of the wrong type names the flag") {
        CHECK(error_of(R"({"flags":{"a":{"version":"7"}}})") ==
              R"(at byte 25: flag "a": "version" is a string, not a number)");
        CHECK(error_of(R"({"flags":{"a":{"version":1.5}}})") ==
              R"(at byte 25: flag "a": "version" is 1.5, not a whole number that fits in 64 bits)");
        CHECK(error_of(R"({"flags":{"a":{"variations":{"x":1}}}})") ==
              R"(at byte 28: flag "a": "variations" is an object, not an array)");
        CHECK(error_of(R"({"flags":{"a":{"trackEvents":"yes"}}})") ==
              R"(at byte 29: flag "a": "trackEvents" is a string, not a boolean)");
        CHECK(error_of(R"({"flags":{"a":{"rules":[{"trackEvents":1}]}}})") ==
              R"(at byte 39: flag "a": "rules"[0].trackEvents is a number, not a boolean)");
        CHECK(error_of(R"({"flags":{"a":{"rules":[{},7]}}})") ==
              R"(at byte 27: flag "a": "rules"[1] is a number, not an object)");
        CHECK(error_of(R"({"flags":{"a":true}})") ==
              R"(at byte 14: flag "a" is a boolean, not an object)");
    }
    SECTION("flags or segments of the wrong type") {
        CHECK(error_of(R"({"flags":[]})") == R"(at byte 9: "flags" is an array, not an object)");
        CHECK(error_of(R"({"segments":1})") ==
              R"(at byte 12: "segments" is a number, not an object)");
    }
}

TEST_CASE("FlagInfo::variation_index_of compares values by meaning", "[flag_data]") {
    Result<FlagData> data = parse_flag_data(
        R"({"flags":{"f":{"variations":[1, 2.5, "two", {"a":1,"b":[true,null]}, -0]}}})");
    REQUIRE(data);
    const FlagInfo& flag = *data->find("f");
    auto index_of = [&](std::string_view value) {
        return flag.variation_index_of(canonical_json(value).value());
    };
    CHECK(index_of("1") == 0u);
    CHECK(index_of("1.0") == 0u);
    CHECK(index_of("1e0") == 0u);
    CHECK(index_of("2.50") == 1u);
    CHECK(index_of(R"("two")") == 2u);
    CHECK(index_of(R"("t\u0077o")") == 2u);
    CHECK(index_of(R"({ "b" : [true, null], "a" : 1.0 })") == 3u);
    CHECK(index_of("0") == 4u);
    CHECK_FALSE(index_of("3"));
    CHECK_FALSE(index_of(R"("1")"));
    CHECK_FALSE(index_of(R"({"a":1})"));

    SECTION("a FlagInfo built by hand, without canonical forms") {
        FlagInfo by_hand;
        by_hand.variations = {R"({"x":1,"y":2})", "false"};
        CHECK(by_hand.variation_index_of(canonical_json(R"({"y":2.0,"x":1})").value()) == 0u);
        CHECK(by_hand.variation_index_of("false") == 1u);
        CHECK_FALSE(by_hand.variation_index_of("true"));
    }
}

TEST_CASE("FlagInfo::rule_index_of prefers the rule's id", "[flag_data]") {
    FlagInfo flag;
    flag.rule_track_events = {false, true, false};
    flag.rule_ids = {"r0", "r1", ""};
    CHECK(flag.rule_index_of(0, "r1") == 1u); // rules moved since: the id wins
    CHECK(flag.rule_index_of(2, "") == 2u);
    CHECK(flag.rule_index_of(2, "gone") == 2u);
    CHECK_FALSE(flag.rule_index_of(3, ""));
    CHECK_FALSE(flag.rule_index_of(-1, ""));
    CHECK_FALSE(flag.rule_index_of(std::nullopt, "gone"));
}
