#include "core/summary/context_key_lru.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace evrelay;

TEST_CASE("ContextKeyLru", "[context_key_lru]") {
    SECTION("remembers keys; add() says whether it knew them") {
        ContextKeyLru lru(3);
        CHECK_FALSE(lru.add("a"));
        CHECK(lru.add("a"));
        CHECK_FALSE(lru.add("b"));
        CHECK(lru.size() == 2);
        lru.clear();
        CHECK(lru.size() == 0);
        CHECK_FALSE(lru.add("a"));
    }
    SECTION("forgets the least recently used beyond its capacity") {
        ContextKeyLru lru(3);
        lru.add("a");
        lru.add("b");
        lru.add("c");
        CHECK(lru.add("a")); // a is now the most recent; b the least
        CHECK_FALSE(lru.add("d"));
        CHECK(lru.size() == 3);
        CHECK_FALSE(lru.add("b")); // evicted by d (and now evicts c)
        CHECK(lru.add("a"));
        CHECK(lru.add("d"));
        CHECK_FALSE(lru.add("c"));
    }
    SECTION("long keys (not stored inline) stay found") {
        ContextKeyLru lru(1000);
        for (int i = 0; i < 1000; ++i) {
            CHECK_FALSE(lru.add("a-context-key-long-enough-to-be-allocated-" + std::to_string(i)));
        }
        for (int i = 0; i < 1000; ++i) {
            CHECK(lru.add("a-context-key-long-enough-to-be-allocated-" + std::to_string(i)));
        }
        CHECK_FALSE(lru.add("one more"));
        CHECK(lru.size() == 1000);
        CHECK_FALSE(lru.add("a-context-key-long-enough-to-be-allocated-0"));
    }
    SECTION("capacity 0 remembers nothing") {
        ContextKeyLru lru(0);
        CHECK_FALSE(lru.add("a"));
        CHECK_FALSE(lru.add("a"));
        CHECK(lru.size() == 0);
    }
}
