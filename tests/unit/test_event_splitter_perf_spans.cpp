// split_array takes the elements' spans from the structural index of its one validation pass
// (JsonValidator): these inputs are the ones a depth walk over that index could get wrong.

#include "core/json/event_splitter.hpp"
#include "core/json/json_scan.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using evrelay::EventSplitter;
using evrelay::JsonError;

namespace {

// What split_array returns must be what a plain scan of the (valid) text finds.
void check_spans_match_scan(EventSplitter& splitter, const std::string& json) {
    std::vector<std::string_view> out;
    REQUIRE(splitter.split_array(json, json.size(), out));
    const auto spans = evrelay::array_element_spans(json);
    REQUIRE(spans);
    const std::vector<std::string_view>& scanned = *spans;
    REQUIRE(out.size() == scanned.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
        CHECK(out[i].data() == scanned[i].data());
        CHECK(out[i] == scanned[i]);
    }
}

} // namespace

TEST_CASE("EventSplitter::split_array spans survive brackets inside strings and deep nesting",
          "[reader]") {
    EventSplitter splitter;
    check_spans_match_scan(splitter, R"([{"a":"}"},{"b":"{["},{"c":"]]}}"}])");
    check_spans_match_scan(splitter, R"([{"q":"say \"}\" and \\"},{"r":"\\\\\"{"}])");
    check_spans_match_scan(splitter, R"([{"d":[[[{"e":[{}]}]]],"f":{"g":{"h":[]}}},{}])");
    check_spans_match_scan(splitter,
                           "[{\"u\":\"\xc3\xa9\xe2\x82\xac{\"} , \n\t{\"v\":[\"}\"]}\r\n]");
    check_spans_match_scan(splitter, "  [ {} ,{ } ,  {\"x\" : { } } ]  ");
}

TEST_CASE("EventSplitter::split_array spans of one splitter over inputs of different sizes",
          "[reader]") {
    // The parser keeps its index between calls: a short input after a long one must not see
    // the long one's entries.
    EventSplitter splitter;
    std::string big = "[";
    for (int i = 0; i < 500; ++i) {
        big += (i == 0 ? "" : ",");
        big += R"({"kind":"custom","key":"k)" + std::to_string(i) +
               R"(","data":{"n":[1,2,{"m":"]"}]}})";
    }
    big += "]";
    check_spans_match_scan(splitter, big);
    check_spans_match_scan(splitter, R"([{"kind":"custom"}])");
    check_spans_match_scan(splitter, "[]");
    check_spans_match_scan(splitter, big);

    std::vector<std::string_view> out;
    REQUIRE(splitter.split_array(big, big.size(), out));
    CHECK(out.size() == 500);
    const auto rejected = splitter.split_array(R"([{"a":1},[{"b":2}]])", 19, out);
    REQUIRE_FALSE(rejected);
    CHECK(rejected.error().message == "element 1 is an array, not an object");
    CHECK(rejected.error().offset == 9);
    CHECK(out.size() == 500);
}
