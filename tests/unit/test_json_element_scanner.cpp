#include "core/json/json_block_bits.hpp"
#include "core/json/json_element_scanner.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

using evrelay::JsonElementScanner;

namespace {

constexpr std::size_t k_not_found = std::string::npos;

// Feeds `text` to a scanner `chunk` more bytes at a time, as the array reader does (the bytes
// given stay where they are; the scanner resumes where it stopped). The offset of the ',' or ']'
// that ends the element at text[0], or k_not_found.
std::size_t end_in_pieces(const std::string& text, std::size_t chunk) {
    JsonElementScanner scanner;
    scanner.start();
    const char* p = text.data();
    std::size_t given = 0;
    while (given < text.size()) {
        given = std::min(text.size(), given + chunk);
        const char* const end = text.data() + given;
        if (scanner.find_end(p, end)) {
            return static_cast<std::size_t>(p - text.data());
        }
        // Stopped at the end, or before a backslash whose escaped byte has not arrived.
        REQUIRE((p == end || (p + 1 == end && *p == '\\')));
    }
    return k_not_found;
}

// Every way of cutting `text` that matters: byte by byte, around the 64-byte blocks, whole.
std::vector<std::size_t> chunk_sizes(const std::string& text) {
    return {1, 2, 7, 63, 64, 65, 100, std::max<std::size_t>(text.size(), 1)};
}

void check_end(const std::string& text, std::size_t expected) {
    for (const std::size_t chunk : chunk_sizes(text)) {
        INFO(text << " in pieces of " << chunk);
        CHECK(end_in_pieces(text, chunk) == expected);
    }
}

// A random valid JSON value: nesting, long strings with every escape, brackets and commas
// inside strings, so that both the block and the byte paths meet each case at any offset.
std::string random_value(std::mt19937& random, int depth) {
    auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(random); };
    auto space = [&] { return std::string(static_cast<std::size_t>(pick(3)), ' '); };
    switch (depth > 3 ? 2 + pick(2) : pick(4)) {
    case 0:
    case 1: {
        const bool object = pick(2) == 0;
        std::string out(1, object ? '{' : '[');
        const int n = pick(4);
        for (int i = 0; i < n; ++i) {
            out += (i > 0 ? "," : "") + space();
            if (object) {
                out += "\"k" + std::to_string(i) + "\"" + space() + ":" + space();
            }
            out += random_value(random, depth + 1) + space();
        }
        return out + (object ? '}' : ']');
    }
    case 2: {
        static const std::vector<std::string> pieces = {
            "a", "bcdefgh", ",",    "]",   "}",       "[",        "{",
            ":", "\\\"",    "\\\\", "\\n", "\\u00e9", "\xc3\xa9",
        };
        std::string out = "\"";
        const int n = pick(40);
        for (int i = 0; i < n; ++i) {
            out += pieces[static_cast<std::size_t>(pick(static_cast<int>(pieces.size())))];
        }
        return out + "\"";
    }
    default: {
        static const std::vector<std::string> scalars = {"0", "-12.5e3", "true", "false", "null"};
        return scalars[static_cast<std::size_t>(pick(static_cast<int>(scalars.size())))];
    }
    }
}

} // namespace

TEST_CASE("JsonElementScanner finds the ',' or ']' that ends an element", "[json]") {
    check_end(R"({"a":1},{"b":2})", 7);
    check_end(R"({"a":1}])", 7);
    check_end(R"({"a":"x,]"}])", 11);
    check_end(R"({"a":"\\"},{})", 10);
    check_end(R"({"a":"\"],"}, 1)", 12);
    check_end(R"([1,[2,{"x":[]}]],4)", 16);
    check_end(R"("s,]" ])", 6);
    check_end("123 ,", 4);
    check_end(R"({"a":1)", k_not_found);
    check_end(R"({"a":"never closed,])", k_not_found);
}

TEST_CASE("JsonElementScanner: backslash runs at every offset around the 64-byte blocks",
          "[json]") {
    for (std::size_t pad = 0; pad < 140; ++pad) {
        for (std::size_t backslashes = 1; backslashes <= 4; ++backslashes) {
            // An odd run escapes the quote after it; an even run is escaped backslashes only.
            std::string content = std::string(pad, 'x') + std::string(backslashes, '\\');
            if (backslashes % 2 == 1) {
                content += '"';
            }
            content += ",]";
            const std::string element = "{\"k\":\"" + content + "\"}";
            check_end(element + ",{}]", element.size());
            check_end(element + "]", element.size());
        }
    }
}

TEST_CASE("JsonElementScanner agrees with where random valid JSON values end", "[json]") {
    std::mt19937 random(20261203);
    std::uniform_int_distribution<std::size_t> chunk(1, 200);
    std::size_t long_ones = 0;
    for (int n = 0; n < 3000; ++n) {
        const std::string value = random_value(random, 0);
        long_ones += value.size() > 128 ? 1 : 0;
        const std::string text = value + "  \n" + (n % 2 == 0 ? ",{}]" : "]");
        const std::size_t expected = value.size() + 3;
        INFO(text);
        CHECK(end_in_pieces(text, text.size()) == expected);
        CHECK(end_in_pieces(text, chunk(random)) == expected);
        CHECK(end_in_pieces(text, 1) == expected);
    }
    CHECK(long_ones > 100); // values that span several blocks were among them
}

TEST_CASE("JsonElementScanner::start forgets the previous element", "[json]") {
    const std::string text = R"({"a":"unterminated)";
    JsonElementScanner scanner;
    scanner.start();
    const char* p = text.data();
    CHECK_FALSE(scanner.find_end(p, text.data() + text.size()));
    const std::string next = R"({"b":[1]}])";
    scanner.start();
    p = next.data();
    REQUIRE(scanner.find_end(p, next.data() + next.size()));
    CHECK(p - next.data() == 9);
}

TEST_CASE("json_block_bits::find_escaped and prefix_xor agree with a bit-by-bit walk", "[json]") {
    using evrelay::json_block_bits::find_escaped;
    using evrelay::json_block_bits::prefix_xor;
    std::mt19937_64 random(64);
    for (int n = 0; n < 20000; ++n) {
        // Sparse and dense backslash masks: runs of every length matter.
        std::uint64_t backslash = random();
        if (n % 3 == 0) {
            backslash &= random();
        } else if (n % 3 == 1) {
            backslash |= random();
        }
        const bool carry_in = n % 2 == 0;

        std::uint64_t expected = 0;
        bool pending = carry_in; // the previous byte is a backslash that escapes this one
        for (int i = 0; i < 64; ++i) {
            const bool is_backslash = ((backslash >> i) & 1) != 0;
            if (pending) {
                expected |= std::uint64_t{1} << i;
                pending = false;
            } else {
                pending = is_backslash;
            }
        }
        bool carry = carry_in;
        INFO("backslash " << backslash << " carry " << carry_in);
        CHECK(find_escaped(backslash, carry) == expected);
        CHECK(carry == pending);

        std::uint64_t inside = 0;
        bool odd = false;
        for (int i = 0; i < 64; ++i) {
            odd = odd != (((backslash >> i) & 1) != 0);
            inside |= odd ? std::uint64_t{1} << i : 0;
        }
        CHECK(prefix_xor(backslash) == inside);
    }
}

#if defined(__SSE2__)
TEST_CASE("json_block_bits::classify marks quotes, backslashes and brackets and commas", "[json]") {
    std::string block(64, 'a');
    block[0] = '"';
    block[5] = '\\';
    block[10] = '{';
    block[17] = '}';
    block[31] = '[';
    block[32] = ']';
    block[48] = ',';
    block[63] = '"';
    block[20] = ':'; // not structural to the scanners
    block[21] = ';'; // differs from '[' and '{' in other bits than 0x20
    block[22] = '@';
    const evrelay::json_block_bits::BlockBits bits =
        evrelay::json_block_bits::classify(block.data());
    CHECK(bits.quote == ((std::uint64_t{1} << 0) | (std::uint64_t{1} << 63)));
    CHECK(bits.backslash == std::uint64_t{1} << 5);
    CHECK(bits.structural ==
          ((std::uint64_t{1} << 10) | (std::uint64_t{1} << 17) | (std::uint64_t{1} << 31) |
           (std::uint64_t{1} << 32) | (std::uint64_t{1} << 48)));
}
#endif
