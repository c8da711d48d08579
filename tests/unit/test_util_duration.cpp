#include "core/util/duration.hpp"

#include <catch2/catch.hpp>

#include <chrono>

using evrelay::ErrorKind;
using evrelay::util::format_duration;
using evrelay::util::parse_duration;
using namespace std::chrono_literals;

namespace {

std::chrono::milliseconds parsed(std::string_view text) {
    auto result = parse_duration(text);
    INFO("text: " << text << (result ? "" : " error: " + result.error().message));
    REQUIRE(result.has_value());
    return *result;
}

} // namespace

TEST_CASE("util::parse_duration", "[util]") {
    SECTION("single units") {
        CHECK(parsed("500ms") == 500ms);
        CHECK(parsed("5s") == 5s);
        CHECK(parsed("1m") == 1min);
        CHECK(parsed("2h") == 2h);
        CHECK(parsed("0s") == 0ms);
        CHECK(parsed("2000us") == 2ms);
        CHECK(parsed("3000000ns") == 3ms);
    }
    SECTION("combinations and fractions") {
        CHECK(parsed("1m30s") == 90s);
        CHECK(parsed("1h2m3s4ms") == 1h + 2min + 3s + 4ms);
        CHECK(parsed("1.5s") == 1500ms);
        CHECK(parsed("0.25m") == 15s);
        CHECK(parsed(".5s") == 500ms);
    }
    SECTION("a bare number means seconds") {
        CHECK(parsed("5") == 5s);
        CHECK(parsed("0.5") == 500ms);
        CHECK(parsed("0") == 0ms);
        CHECK(parsed(" 10 ") == 10s);
    }
    SECTION("garbage is rejected with a message naming the text") {
        for (const char* text : {"", "abc", "5x", "s", "1m30", "5 s", "1.2.3s", "ms5", "."}) {
            auto result = parse_duration(text);
            INFO("text: '" << text << "'");
            REQUIRE_FALSE(result.has_value());
            CHECK(result.error().kind == ErrorKind::config);
            CHECK_THAT(result.error().message, Catch::Contains("'" + std::string(text) + "'"));
        }
    }
    SECTION("negatives are rejected") {
        auto result = parse_duration("-5s");
        REQUIRE_FALSE(result.has_value());
        CHECK(result.error().kind == ErrorKind::config);
        CHECK_THAT(result.error().message, Catch::Contains("-5s") && Catch::Contains("negative"));
    }
    SECTION("overflow and sub-millisecond values are rejected") {
        CHECK_FALSE(parse_duration("99999999999999999999h").has_value());
        CHECK_FALSE(parse_duration("9999999999h").has_value());
        auto tiny = parse_duration("100us");
        REQUIRE_FALSE(tiny.has_value());
        CHECK_THAT(tiny.error().message, Catch::Contains("100us"));
    }
}

TEST_CASE("util::format_duration", "[util]") {
    CHECK(format_duration(0ms) == "0s");
    CHECK(format_duration(250ms) == "250ms");
    CHECK(format_duration(1500ms) == "1.5s");
    CHECK(format_duration(1005ms) == "1.005s");
    CHECK(format_duration(2min) == "2m");
    CHECK(format_duration(90s) == "1m30s");
    CHECK(format_duration(1h) == "1h");
    CHECK(format_duration(-1500ms) == "-1.5s");

    SECTION("round trips through parse_duration") {
        for (auto d : {1ms, 999ms, 1000ms, 61001ms, std::chrono::milliseconds(3723004)}) {
            CHECK(parsed(format_duration(d)) == d);
        }
    }
}
