#include "core/util/deadline_timer.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

using evrelay::util::DeadlineTimer;
using namespace std::chrono_literals;

namespace {

// What the timer's functions did, in order, for the test to wait on.
struct Calls {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<int> order;

    std::function<void()> record(int n) {
        return [this, n] {
            std::lock_guard lock(mutex);
            order.push_back(n);
            changed.notify_all();
        };
    }
    bool wait_for(std::size_t n) {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, 10s, [&] { return order.size() >= n; });
    }
    std::vector<int> seen() {
        std::lock_guard lock(mutex);
        return order;
    }
};

} // namespace

TEST_CASE("util::DeadlineTimer calls functions at their deadlines, soonest first", "[util]") {
    Calls calls;
    DeadlineTimer timer;
    const auto start = DeadlineTimer::Clock::now();
    timer.schedule(start + 120ms, calls.record(3));
    timer.schedule(start + 20ms, calls.record(1)); // sooner than the one the thread waits for
    timer.schedule(start + 60ms, calls.record(2));
    REQUIRE(calls.wait_for(3));
    CHECK(DeadlineTimer::Clock::now() - start >= 120ms);
    CHECK(calls.seen() == std::vector<int>{1, 2, 3});
    CHECK(timer.scheduled() == 0);
}

TEST_CASE("util::DeadlineTimer::cancel", "[util]") {
    Calls calls;
    DeadlineTimer timer;
    const auto start = DeadlineTimer::Clock::now();
    const auto cancelled = timer.schedule(start + 50ms, calls.record(1));
    const auto kept = timer.schedule(start + 100ms, calls.record(2));
    CHECK(timer.scheduled() == 2);
    CHECK(timer.cancel(cancelled));
    CHECK_FALSE(timer.cancel(cancelled)); // once
    REQUIRE(calls.wait_for(1));
    CHECK(calls.seen() == std::vector<int>{2});
    CHECK_FALSE(timer.cancel(kept));  // it ran
    CHECK_FALSE(timer.cancel(12345)); // unknown
}

TEST_CASE("util::DeadlineTimer: a cancelled function is destroyed at once, not called", "[util]") {
    auto held = std::make_shared<int>(1);
    std::atomic<bool> called{false};
    DeadlineTimer timer;
    const auto id =
        timer.schedule(DeadlineTimer::Clock::now() + 1h, [held, &called] { called = true; });
    CHECK(held.use_count() == 2);
    CHECK(timer.cancel(id));
    CHECK(held.use_count() == 1);
    CHECK_FALSE(called.load());
}

TEST_CASE("util::DeadlineTimer: destroyed, it drops what is still scheduled", "[util]") {
    auto held = std::make_shared<int>(1);
    std::atomic<bool> called{false};
    {
        DeadlineTimer timer;
        timer.schedule(DeadlineTimer::Clock::now() + 1h, [held, &called] { called = true; });
        CHECK(held.use_count() == 2);
    }
    CHECK(held.use_count() == 1);
    CHECK_FALSE(called.load());
}

TEST_CASE("util::DeadlineTimer: a function may schedule and cancel", "[util]") {
    Calls calls;
    DeadlineTimer timer;
    const auto never = timer.schedule(DeadlineTimer::Clock::now() + 1h, calls.record(9));
    timer.schedule(DeadlineTimer::Clock::now(), [&] {
        timer.cancel(never);
        timer.schedule(DeadlineTimer::Clock::now() + 10ms, calls.record(2));
        calls.record(1)();
    });
    REQUIRE(calls.wait_for(2));
    CHECK(calls.seen() == std::vector<int>{1, 2});
    CHECK(timer.scheduled() == 0);
}
