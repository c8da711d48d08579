#include "core/util/gzip.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <stdexcept>
#include <string>

using evrelay::ErrorKind;
using evrelay::util::gunzip;
using evrelay::util::GzipCompressor;
using evrelay::util::looks_gzipped;

namespace {

std::string gzip(std::string_view text, int level = 6) {
    GzipCompressor compressor(level);
    std::string out;
    compressor.compress(text, out);
    return out;
}

std::string random_bytes(std::size_t size) {
    std::mt19937_64 generator(42);
    std::string out(size, '\0');
    for (char& c : out) {
        c = static_cast<char>(generator());
    }
    return out;
}

} // namespace

TEST_CASE("util::GzipCompressor", "[util]") {
    SECTION("round trip at several sizes and levels") {
        const std::string events = R"([{"kind":"feature","key":"flag","value":true}])";
        std::string repeated;
        for (int i = 0; i < 20000; ++i) {
            repeated += events;
        }
        for (const std::string& input :
             {std::string(), std::string("x"), events, repeated, random_bytes(300000)}) {
            for (int level : {0, 1, 6, 12}) {
                const std::string compressed = gzip(input, level);
                CHECK(looks_gzipped(compressed));
                auto output = gunzip(compressed, input.size());
                REQUIRE(output.has_value());
                CHECK(*output == input);
            }
        }
        CHECK(gzip(repeated).size() < repeated.size() / 20);
    }
    SECTION("a compressor is reusable and replaces its output") {
        GzipCompressor compressor(1);
        CHECK(compressor.level() == 1);
        std::string out = "stale";
        compressor.compress("first", out);
        CHECK(*gunzip(out, 100) == "first");
        compressor.compress("second", out);
        CHECK(*gunzip(out, 100) == "second");
    }
    SECTION("an invalid level is a programming error") {
        CHECK_THROWS_AS(GzipCompressor(13), std::invalid_argument);
        CHECK_THROWS_AS(GzipCompressor(-1), std::invalid_argument);
    }
}

TEST_CASE("util::gunzip", "[util]") {
    SECTION("all members of a multi-member input") {
        const std::string input = gzip("hello ") + gzip("") + gzip("world\n");
        auto output = gunzip(input, 1000);
        REQUIRE(output.has_value());
        CHECK(*output == "hello world\n");
    }
    SECTION("output much larger than the input grows the buffer") {
        const std::string big(10u << 20, 'a');
        const std::string compressed = gzip(big);
        REQUIRE(compressed.size() < 100000);
        auto output = gunzip(compressed + compressed, 2 * big.size());
        REQUIRE(output.has_value());
        CHECK(output->size() == 2 * big.size());
        CHECK(*output == big + big);
    }
    SECTION("the output limit") {
        const std::string text(1000, 'z');
        CHECK(gunzip(gzip(text), 1000).has_value());
        auto over = gunzip(gzip(text), 999);
        REQUIRE_FALSE(over.has_value());
        CHECK(over.error().kind == ErrorKind::too_large);
        CHECK_THAT(over.error().message, Catch::Contains("999"));

        // The limit covers all members together.
        auto members = gunzip(gzip(text) + gzip(text), 1500);
        REQUIRE_FALSE(members.has_value());
        CHECK(members.error().kind == ErrorKind::too_large);

        const std::string big(5u << 20, 'b');
        auto large = gunzip(gzip(big), (5u << 20) - 1);
        REQUIRE_FALSE(large.has_value());
        CHECK(large.error().kind == ErrorKind::too_large);
    }
    SECTION("input that is not gzip") {
        for (const std::string& input :
             {std::string(), std::string("\x1f"), std::string("[{\"kind\":\"feature\"}]"),
              std::string("\x1f\x8b garbage garbage garbage")}) {
            auto output = gunzip(input, 1000);
            REQUIRE_FALSE(output.has_value());
            CHECK(output.error().kind == ErrorKind::invalid_input);
        }
    }
    SECTION("truncated and trailing data") {
        const std::string compressed = gzip("some text that is long enough to matter");
        auto truncated = gunzip(compressed.substr(0, compressed.size() - 5), 1000);
        REQUIRE_FALSE(truncated.has_value());
        CHECK(truncated.error().kind == ErrorKind::invalid_input);

        auto trailing = gunzip(compressed + "junk", 1000);
        REQUIRE_FALSE(trailing.has_value());
        CHECK(trailing.error().kind == ErrorKind::invalid_input);
        CHECK_THAT(trailing.error().message, Catch::Contains("trailing"));
    }
    SECTION("a corrupted CRC is detected") {
        std::string compressed = gzip("checksummed");
        compressed[compressed.size() - 8] ^= 0x55;
        auto output = gunzip(compressed, 1000);
        REQUIRE_FALSE(output.has_value());
        CHECK(output.error().kind == ErrorKind::invalid_input);
    }
}

TEST_CASE("util::looks_gzipped", "[util]") {
    CHECK(looks_gzipped("\x1f\x8b"));
    CHECK(looks_gzipped(gzip("x")));
    CHECK_FALSE(looks_gzipped(""));
    CHECK_FALSE(looks_gzipped("\x1f"));
    CHECK_FALSE(looks_gzipped("\x8b\x1f"));
    CHECK_FALSE(looks_gzipped("{}"));
}
