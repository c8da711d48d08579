#include "core/inbound/recent_payload_ids.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <thread>
#include <vector>

using evrelay::RecentPayloadIds;

TEST_CASE("RecentPayloadIds remembers the last N keys", "[inbound][spool]") {
    RecentPayloadIds ids(3);
    CHECK_FALSE(ids.contains("a"));
    ids.add("a");
    ids.add("b");
    ids.add("a"); // known: does not count again
    ids.add("c");
    CHECK(ids.contains("a"));
    CHECK(ids.contains("b"));
    CHECK(ids.contains("c"));
    ids.add("d"); // the oldest, "a", is forgotten
    CHECK_FALSE(ids.contains("a"));
    CHECK(ids.contains("b"));
    CHECK(ids.contains("d"));

    RecentPayloadIds none(0);
    none.add("a");
    CHECK_FALSE(none.contains("a"));
}

TEST_CASE("RecentPayloadIds from several threads", "[inbound][spool]") {
    RecentPayloadIds ids(100'000);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&ids, t] {
            for (int i = 0; i < 10'000; ++i) {
                ids.add(std::to_string(t) + "-" + std::to_string(i));
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    for (int t = 0; t < 4; ++t) {
        CHECK(ids.contains(std::to_string(t) + "-9999"));
    }
}
