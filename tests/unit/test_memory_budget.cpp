#include "core/model/memory_budget.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>

using namespace evrelay;

TEST_CASE("MemoryBudget::try_acquire", "[publisher][core]") {
    MemoryBudget budget(100);
    CHECK(budget.try_acquire(60));
    CHECK(budget.used() == 60);
    CHECK(budget.available() == 40);
    // All or nothing: 50 does not fit, and nothing of it is taken.
    CHECK_FALSE(budget.try_acquire(50));
    CHECK(budget.used() == 60);
    CHECK(budget.try_acquire(40));
    CHECK(budget.available() == 0);
    CHECK(budget.try_acquire(0));
    budget.release(100);
    CHECK(budget.used() == 0);
    CHECK_FALSE(budget.try_acquire(101));
}

TEST_CASE("MemoryBudget::acquire waits for a release", "[publisher][core]") {
    MemoryBudget budget(100);
    budget.acquire(70);
    std::atomic<bool> granted{false};
    auto waiter = std::async(std::launch::async, [&] {
        budget.acquire(50);
        granted = true;
    });
    CHECK(waiter.wait_for(std::chrono::milliseconds(50)) == std::future_status::timeout);
    CHECK_FALSE(granted);
    budget.release(70);
    REQUIRE(waiter.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
    CHECK(granted);
    CHECK(budget.used() == 50);
}

TEST_CASE("MemoryBudget::acquire grants an oversized request when nothing is held",
          "[publisher][core]") {
    MemoryBudget budget(100);
    budget.acquire(10);
    auto waiter = std::async(std::launch::async, [&] { budget.acquire(250); });
    CHECK(waiter.wait_for(std::chrono::milliseconds(50)) == std::future_status::timeout);
    budget.release(10);
    REQUIRE(waiter.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
    CHECK(budget.used() == 250);
    CHECK(budget.available() == 0);
    CHECK_FALSE(budget.try_acquire(1));
    budget.release(250);
    CHECK(budget.used() == 0);
}

TEST_CASE("BudgetLease releases its bytes", "[publisher][core]") {
    MemoryBudget budget(100);
    REQUIRE(budget.try_acquire(60));
    {
        BudgetLease lease(budget, 60);
        BudgetLease moved(std::move(lease));
        CHECK(lease.bytes() == 0);
        CHECK(moved.bytes() == 60);
        CHECK(budget.used() == 60);
    }
    CHECK(budget.used() == 0);
}

TEST_CASE("BudgetLease::split", "[publisher][core]") {
    MemoryBudget budget(100);
    REQUIRE(budget.try_acquire(90));
    BudgetLease whole(budget, 90);
    BudgetLease half = whole.split(40);
    CHECK(whole.bytes() == 50);
    CHECK(half.bytes() == 40);
    CHECK(budget.used() == 90);
    half.reset();
    CHECK(budget.used() == 50);
    // More than the lease holds moves what it holds, never more.
    BudgetLease rest = whole.split(1000);
    CHECK(rest.bytes() == 50);
    CHECK(whole.bytes() == 0);
    whole.reset();
    CHECK(budget.used() == 50);
    rest.reset();
    CHECK(budget.used() == 0);
    BudgetLease empty;
    CHECK(empty.split(10).bytes() == 0);
}
