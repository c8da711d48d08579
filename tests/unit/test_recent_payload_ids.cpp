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

TEST_CASE("RecentPayloadIds::claim: a key being stored, and its waiters", "[inbound][spool]") {
    using Claim = RecentPayloadIds::Claim;
    RecentPayloadIds ids(10);
    std::vector<std::string> heard;
    auto waiter = [&heard](const std::string& name) {
        return [&heard, name](bool stored) {
            heard.push_back(name + (stored ? ":stored" : ":failed"));
        };
    };

    SECTION("stored: the waiters hear it, and the key is then known as stored") {
        CHECK(ids.claim("a") == Claim::claimed);
        CHECK(ids.claim("a") == Claim::storing); // the SDK's retry, while the first is synced
        CHECK_FALSE(ids.contains("a"));
        ids.when_finished("a", waiter("retry-1"));
        ids.when_finished("a", waiter("retry-2"));
        CHECK(heard.empty());
        ids.finish("a", true);
        CHECK(heard == std::vector<std::string>{"retry-1:stored", "retry-2:stored"});
        CHECK(ids.contains("a"));
        CHECK(ids.claim("a") == Claim::stored);
        ids.when_finished("a", waiter("late")); // finished already: answered at once
        CHECK(heard.back() == "late:stored");
    }

    SECTION("failed: the waiters hear it, and the key is forgotten (a retry stores it again)") {
        CHECK(ids.claim("a") == Claim::claimed);
        ids.when_finished("a", waiter("retry"));
        ids.finish("a", false);
        CHECK(heard == std::vector<std::string>{"retry:failed"});
        CHECK_FALSE(ids.contains("a"));
        ids.when_finished("a", waiter("late"));
        CHECK(heard.back() == "late:failed");
        CHECK(ids.claim("a") == Claim::claimed);
    }

    SECTION("keys being stored are never evicted; stored ones are, oldest first") {
        RecentPayloadIds small(1);
        CHECK(small.claim("a") == Claim::claimed);
        small.add("b");
        small.add("c");
        CHECK(small.claim("a") == Claim::storing);
        small.finish("a", true);
        CHECK(small.contains("a"));
        CHECK_FALSE(small.contains("c"));
    }
}
