#include "core/util/base64.hpp"

#include <catch2/catch.hpp>

#include <string>

using evrelay::ErrorKind;
using evrelay::util::decode_base64;
using evrelay::util::encode_base64;

TEST_CASE("util::decode_base64", "[inbound][util]") {
    SECTION("RFC 4648 test vectors, padded and unpadded") {
        const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                               {"f", "Zg=="},
                                                               {"fo", "Zm8="},
                                                               {"foo", "Zm9v"},
                                                               {"foob", "Zm9vYg=="},
                                                               {"fooba", "Zm9vYmE="},
                                                               {"foobar", "Zm9vYmFy"}};
        for (const auto& [plain, encoded] : vectors) {
            INFO(encoded);
            CHECK(encode_base64(plain) == encoded);
            auto decoded = decode_base64(encoded);
            REQUIRE(decoded);
            CHECK(*decoded == plain);
            std::string unpadded = encoded;
            while (!unpadded.empty() && unpadded.back() == '=') {
                unpadded.pop_back();
            }
            auto decoded_unpadded = decode_base64(unpadded);
            REQUIRE(decoded_unpadded);
            CHECK(*decoded_unpadded == plain);
        }
    }
    SECTION("the URL-safe alphabet decodes like the standard one") {
        const std::string bytes = "\xfb\xff\xbf\x3e";
        CHECK(encode_base64(bytes) == "+/+/Pg==");
        auto standard = decode_base64("+/+/Pg==");
        auto url_safe = decode_base64("-_-_Pg");
        REQUIRE(standard);
        REQUIRE(url_safe);
        CHECK(*standard == bytes);
        CHECK(*url_safe == bytes);
    }
    SECTION("a JSON array round-trips") {
        const std::string json = R"([{"kind":"custom","key":"é"}])";
        auto decoded = decode_base64(encode_base64(json));
        REQUIRE(decoded);
        CHECK(*decoded == json);
    }
    SECTION("invalid input is rejected with a reason") {
        for (const char* bad : {"Zm9v!", "Z", "Zm9vY", "Zm=9v", "Zm9v YmFy", "Zg=", "===="}) {
            INFO(bad);
            auto decoded = decode_base64(bad);
            REQUIRE_FALSE(decoded);
            CHECK(decoded.error().kind == ErrorKind::invalid_input);
            CHECK(decoded.error().message.find("base64") != std::string::npos);
        }
    }
}
