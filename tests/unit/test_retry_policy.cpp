#include "core/upstream/retry_policy.hpp"
#include "core/upstream/retry_queue.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <random>
#include <string>
#include <vector>

using namespace evrelay;
using std::chrono::milliseconds;

TEST_CASE("RetryPolicy::classify_status", "[sender]") {
    CHECK(classify_status(200) == AttemptOutcome::delivered);
    CHECK(classify_status(202) == AttemptOutcome::delivered);
    CHECK(classify_status(299) == AttemptOutcome::delivered);

    // SPEC §2: connection error/timeout (0), 400, 408, 429 and 5xx are recoverable.
    for (long status : {0L, 400L, 408L, 429L, 500L, 502L, 503L, 504L, 599L}) {
        INFO("status " << status);
        CHECK(classify_status(status) == AttemptOutcome::recoverable);
    }
    CHECK(classify_status(413) == AttemptOutcome::too_large);
    // The proxy refused the proxy credentials: a configuration problem, not the environment's.
    CHECK(classify_status(407) == AttemptOutcome::proxy_rejected);
    for (long status : {401L, 403L, 404L, 405L, 409L, 410L, 415L, 422L, 499L}) {
        INFO("status " << status);
        CHECK(classify_status(status) == AttemptOutcome::rejected);
    }
    // Not followed redirects and informational codes: recoverable, as in Relay.
    CHECK(classify_status(301) == AttemptOutcome::recoverable);
    CHECK(classify_status(100) == AttemptOutcome::recoverable);
}

TEST_CASE("RetryPolicy::may_retry", "[sender]") {
    SECTION("Relay's default: one retry") {
        const RetryPolicy policy(1, milliseconds(1000));
        CHECK(policy.may_retry(1));
        CHECK_FALSE(policy.may_retry(2));
    }
    SECTION("no retries") {
        const RetryPolicy policy(0, milliseconds(1000));
        CHECK_FALSE(policy.may_retry(1));
    }
    SECTION("three retries allow four attempts") {
        const RetryPolicy policy(3, milliseconds(10));
        CHECK(policy.may_retry(1));
        CHECK(policy.may_retry(3));
        CHECK_FALSE(policy.may_retry(4));
    }
    SECTION("a negative count means none") {
        const RetryPolicy policy(-2, milliseconds(10));
        CHECK(policy.retries() == 0);
        CHECK_FALSE(policy.may_retry(1));
    }
}

TEST_CASE("RetryPolicy::delay_before_retry", "[sender]") {
    const RetryPolicy policy(5, milliseconds(1000));

    SECTION("the first retry waits exactly the retry delay, whatever the jitter") {
        CHECK(policy.delay_before_retry(1, 0.0) == milliseconds(1000));
        CHECK(policy.delay_before_retry(1, 0.7) == milliseconds(1000));
        CHECK(policy.delay_before_retry(1, 1.0) == milliseconds(1000));
    }
    SECTION("later retries double, jittered into [0.5, 1.0] of the doubled delay") {
        CHECK(policy.delay_before_retry(2, 0.0) == milliseconds(1000));
        CHECK(policy.delay_before_retry(2, 1.0) == milliseconds(2000));
        CHECK(policy.delay_before_retry(3, 0.0) == milliseconds(2000));
        CHECK(policy.delay_before_retry(3, 1.0) == milliseconds(4000));
        CHECK(policy.delay_before_retry(4, 0.5) == milliseconds(6000));
    }
    SECTION("random jitter stays within bounds") {
        std::mt19937_64 rng(42);
        bool saw_low = false;
        bool saw_high = false;
        for (int i = 0; i < 1000; ++i) {
            const milliseconds d = policy.delay_before_retry(3, rng);
            REQUIRE(d >= milliseconds(2000));
            REQUIRE(d <= milliseconds(4000));
            saw_low = saw_low || d < milliseconds(2500);
            saw_high = saw_high || d > milliseconds(3500);
        }
        // The jitter actually varies (spreads retries), not a constant.
        CHECK(saw_low);
        CHECK(saw_high);
    }
    SECTION("out-of-range jitter input is clamped") {
        CHECK(policy.delay_before_retry(2, -3.0) == milliseconds(1000));
        CHECK(policy.delay_before_retry(2, 7.0) == milliseconds(2000));
    }
    SECTION("huge retry numbers are capped instead of overflowing") {
        const milliseconds d = policy.delay_before_retry(200, 1.0);
        CHECK(d == RetryPolicy::k_max_delay);
        CHECK(policy.delay_before_retry(200, 0.0) == RetryPolicy::k_max_delay / 2);
    }
}

TEST_CASE("RetryQueue gives jobs back earliest due first", "[sender]") {
    using Clock = RetryQueue::Clock;
    const Clock::time_point t0 = Clock::now();
    const auto job = [](std::string id) {
        auto made = std::make_unique<SenderJob>();
        made->payload.id = std::move(id);
        return made;
    };
    RetryQueue queue;
    CHECK(queue.empty());
    queue.push(t0 + milliseconds(30), job("c"));
    queue.push(t0 + milliseconds(10), job("a1"));
    queue.push(t0 + milliseconds(20), job("b"));
    queue.push(t0 + milliseconds(10), job("a2")); // same due time: after a1
    std::vector<std::string> order;
    while (!queue.empty()) {
        const Clock::time_point due = queue.next_due();
        JobPtr next = queue.pop();
        REQUIRE(next);
        order.push_back(next->payload.id + "@" +
                        std::to_string(std::chrono::duration_cast<milliseconds>(due - t0).count()));
    }
    CHECK(order == std::vector<std::string>{"a1@10", "a2@10", "b@20", "c@30"});
}
