#include "core/replay/pacer.hpp"

#include <catch2/catch.hpp>

using namespace evrelay;
using namespace std::chrono_literals;

TEST_CASE("Pacer::release_time", "[pacer]") {
    const auto t0 = Pacer::Clock::now();

    SECTION("unlimited releases at once") {
        Pacer pacer = Pacer::unlimited();
        CHECK(pacer.release_time(1000, std::nullopt, t0) == t0);
        CHECK(pacer.release_time(1000, std::nullopt, t0 + 1ms) == t0 + 1ms);
    }
    SECTION("a rate spaces events by count, whatever their grouping") {
        Pacer pacer = Pacer::events_per_second(100);
        CHECK(pacer.release_time(10, std::nullopt, t0) == t0);
        // 10 events already released: the next group may go 100 ms after the start.
        CHECK(pacer.release_time(40, std::nullopt, t0) == t0 + 100ms);
        CHECK(pacer.release_time(1, std::nullopt, t0) == t0 + 500ms);
    }
    SECTION("speed follows recorded timestamps scaled by the factor") {
        Pacer pacer = Pacer::recorded_speed(2.0);
        const auto r0 = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
        CHECK(pacer.release_time(5, r0, t0) == t0);
        CHECK(pacer.release_time(5, r0 + 10s, t0 + 1ms) == t0 + 5s);
        // Out-of-order timestamps go at once rather than travelling back in time.
        CHECK(pacer.release_time(5, r0 - 3s, t0 + 2ms) == t0);
        // Items without a timestamp are not held back.
        CHECK(pacer.release_time(5, std::nullopt, t0 + 3ms) == t0 + 3ms);
    }
}
