#include "core/json/json_document.hpp"
#include "core/summary/context_conversion.hpp"

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

using namespace evrelay;

namespace {

struct Converted {
    std::optional<ContextConverter::Shape> shape;
    std::vector<std::pair<std::string, std::string>> kinds_and_keys;
    std::string lru_key;
    std::string context; // the context written, when read
};

// Reads `object` as an event's context/user member would be, and writes the context.
Converted convert(std::string_view object) {
    JsonDocument document;
    REQUIRE(document.parse(object));
    ContextConverter converter;
    ContextIdentity identity;
    Converted result;
    result.shape = converter.read(document.validator(), document.validator().root_part(), identity);
    if (result.shape) {
        for (const ContextIdentity::KindKey& entry : identity) {
            result.kinds_and_keys.emplace_back(entry.kind, entry.key);
        }
        result.lru_key = identity.lru_key();
        converter.append_context(document.validator(), document.validator().root_part(),
                                 *result.shape, result.context);
    }
    return result;
}

using KindsAndKeys = std::vector<std::pair<std::string, std::string>>;

} // namespace

TEST_CASE("ContextConverter: an old user becomes a context of kind user", "[context_conversion]") {
    SECTION("top-level attributes kept, custom flattened, unknown members dropped") {
        // As the PHP SDK 3.x posts it in a schema-2 feature event.
        const Converted c = convert(
            R"({"key":"u-1","secondary":"s","ip":"10.0.0.1","country":"NZ","email":"u1@example.invalid",
                "firstName":"Ann","lastName":"Lee","avatar":"http://a/1.png","name":"Ann Lee",
                "custom":{"groups":["a","b"],"idx":1,"nested":{"x": 1}},"somethingElse":true})");
        REQUIRE(c.shape == ContextConverter::Shape::legacy_user);
        CHECK(c.kinds_and_keys == KindsAndKeys{{"user", "u-1"}});
        CHECK(c.lru_key == "u-1");
        CHECK(
            c.context ==
            R"({"kind":"user","key":"u-1","ip":"10.0.0.1","country":"NZ","email":"u1@example.invalid",)"
            R"("firstName":"Ann","lastName":"Lee","avatar":"http://a/1.png","name":"Ann Lee",)"
            R"("groups":["a","b"],"idx":1,"nested":{"x":1}})");
    }
    SECTION("anonymous kept when true") {
        CHECK(convert(R"({"key":"a","anonymous":true})").context ==
              R"({"kind":"user","key":"a","anonymous":true})");
        CHECK(convert(R"({"key":"a","anonymous":false})").context ==
              R"({"kind":"user","key":"a"})");
        CHECK(convert(R"({"key":"a","anonymous":null,"custom":{"anonymous":true}})").context ==
              R"({"kind":"user","key":"a","anonymous":true})");
        CHECK(convert(R"({"key":"a","anonymous":false,"custom":{"anonymous":true}})").context ==
              R"({"kind":"user","key":"a"})");
    }
    SECTION("privateAttributeNames: removed and listed in _meta.redactedAttributes") {
        const Converted c = convert(
            R"({"key":"u","email":"e@x","name":"N","custom":{"tier":"gold","plan":"p"},
                "privateAttributeNames":["email","tier","absent","key"]})");
        CHECK(
            c.context ==
            R"({"kind":"user","key":"u","name":"N","plan":"p","_meta":{"redactedAttributes":["email","tier"]}})");
    }
    SECTION("privateAttrs (already removed by the SDK) listed too") {
        CHECK(
            convert(R"({"key":"u","privateAttrs":["email","/odd~name"],"custom":{"a":1}})")
                .context ==
            R"({"kind":"user","key":"u","a":1,"_meta":{"redactedAttributes":["email","/~1odd~0name"]}})");
    }
    SECTION("custom members may not take reserved names; top-level ones win; nulls dropped") {
        CHECK(convert(R"({"key":"u","name":"Top","custom":{"kind":"org","key":"k2","_meta":{},
                           "name":"Custom","email":"c@x","gone":null},"email":null})")
                  .context == R"({"kind":"user","key":"u","name":"Top","email":"c@x"})");
        CHECK(convert(R"({"key":"u","custom":{"dup":1,"dup":2}})").context ==
              R"({"kind":"user","key":"u","dup":2})");
    }
    SECTION("a number key becomes its text; escapes are kept") {
        const Converted number = convert(R"({"key":42})");
        CHECK(number.kinds_and_keys == KindsAndKeys{{"user", "42"}});
        CHECK(number.context == R"({"kind":"user","key":"42"})");
        const Converted escaped = convert(R"({"key":"a\"b\u00e9"})");
        CHECK(escaped.kinds_and_keys == KindsAndKeys{{"user", "a\"b\xc3\xa9"}});
        CHECK(escaped.context == R"({"kind":"user","key":"a\"b\u00e9"})");
    }
    SECTION("a user without a usable key is unreadable") {
        CHECK_FALSE(convert(R"({"name":"no key"})").shape);
        CHECK_FALSE(convert(R"({"key":null})").shape);
        CHECK_FALSE(convert(R"({"key":{"a":1}})").shape);
    }
}

TEST_CASE("ContextConverter: a schema-4 context is kept", "[context_conversion]") {
    SECTION("single kind") {
        const Converted c = convert(R"({ "kind": "org", "key": "o:1%", "name": "Org" })");
        REQUIRE(c.shape == ContextConverter::Shape::context);
        CHECK(c.kinds_and_keys == KindsAndKeys{{"org", "o:1%"}});
        CHECK(c.lru_key == "org:o%3A1%25");
        CHECK(c.context == R"({"kind":"org","key":"o:1%","name":"Org"})");
    }
    SECTION("a user context's LRU key is its key") {
        CHECK(convert(R"({"kind":"user","key":"u1"})").lru_key == "u1");
    }
    SECTION("multi-kind: kinds sorted") {
        const Converted c =
            convert(R"({"kind":"multi","user":{"key":"u1","name":"U"},"device":{"key":"d1"}})");
        REQUIRE(c.shape == ContextConverter::Shape::context);
        CHECK(c.kinds_and_keys == KindsAndKeys{{"device", "d1"}, {"user", "u1"}});
        CHECK(c.lru_key == "device:d1:user:u1");
    }
    SECTION("unreadable contexts") {
        CHECK_FALSE(convert(R"({"kind":"org"})").shape);
        CHECK_FALSE(convert(R"({"kind":"org","key":""})").shape);
        CHECK_FALSE(convert(R"({"kind":"","key":"k"})").shape);
        CHECK_FALSE(convert(R"({"kind":7,"key":"k"})").shape);
        CHECK_FALSE(convert(R"({"kind":"multi"})").shape);
        CHECK_FALSE(convert(R"({"kind":"multi","user":"u1"})").shape);
        CHECK_FALSE(convert(R"({"kind":"multi","user":{"name":"no key"}})").shape);
        CHECK_FALSE(convert(R"(["not","an","object"])").shape);
    }
}

// Found by tests/fuzz/fuzz_summary: of an old user with "key" twice the first was read (the
// index event's LRU key, contextKeys) and the last written (the context of the index, identify
// and debug events), so the events named two users. The last counts everywhere, as a JSON reader
// (Go's, JavaScript's) takes it; so for a schema-4 context's "kind" and "key".
TEST_CASE("ContextConverter: of a member named twice the last counts", "[context_conversion]") {
    SECTION("an old user's key") {
        const Converted c = convert(R"({"key":"u3","name":"N","key":"d1"})");
        REQUIRE(c.shape == ContextConverter::Shape::legacy_user);
        CHECK(c.kinds_and_keys == KindsAndKeys{{"user", "d1"}});
        CHECK(c.lru_key == "d1");
        CHECK(c.context == R"({"kind":"user","key":"d1","name":"N"})");
        CHECK_FALSE(convert(R"({"key":"u3","key":null})").shape);
    }
    SECTION("a context's kind and key") {
        const Converted c = convert(R"({"kind":"user","key":"a","kind":"org","key":"b"})");
        REQUIRE(c.shape == ContextConverter::Shape::context);
        CHECK(c.kinds_and_keys == KindsAndKeys{{"org", "b"}});
        CHECK(c.lru_key == "org:b");
        CHECK_FALSE(convert(R"({"kind":"org","key":"b","key":""})").shape);
    }
    SECTION("the key of a multi-kind context's part") {
        const Converted c = convert(R"({"kind":"multi","device":{"key":"d1","key":"d2"}})");
        REQUIRE(c.shape == ContextConverter::Shape::context);
        CHECK(c.kinds_and_keys == KindsAndKeys{{"device", "d2"}});
    }
}

TEST_CASE("append_context_keys", "[context_conversion]") {
    ContextIdentity identity;
    identity.add("user", "u\"1");
    identity.add("device", "d1");
    identity.finish();
    std::string out;
    append_context_keys(identity, out);
    CHECK(out == R"({"device":"d1","user":"u\"1"})");
    identity.clear();
    identity.add("user", "again");
    identity.finish();
    CHECK(identity.size() == 1);
    CHECK(identity.lru_key() == "again");
}
