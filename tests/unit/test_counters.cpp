#include "core/model/counters.hpp"

#include <catch2/catch.hpp>

using namespace evrelay;

TEST_CASE("to_string(DropReason)", "[publisher][core]") {
    CHECK(to_string(DropReason::queue_full) == "queue_full");
    CHECK(to_string(DropReason::rejected) == "rejected");
    CHECK(to_string(DropReason::too_large) == "too_large");
    CHECK(to_string(DropReason::retries_exhausted) == "retries_exhausted");
    CHECK(to_string(DropReason::shutdown) == "shutdown");
}

TEST_CASE("DeliveryCounters::dropped_total", "[publisher][core]") {
    DeliveryCounters counters;
    CHECK(counters.dropped_total() == 0);
    counters.drop(DropReason::queue_full, 3);
    counters.drop(DropReason::shutdown, 4);
    counters.drop(DropReason::queue_full, 1);
    CHECK(counters.events_dropped[static_cast<std::size_t>(DropReason::queue_full)].load() == 4);
    CHECK(counters.dropped_total() == 8);
}

TEST_CASE("CounterRegistry::for_target", "[publisher][core]") {
    CounterRegistry registry;
    DeliveryCounters& server = registry.for_target("production", SdkKind::server);
    DeliveryCounters& mobile = registry.for_target("production", SdkKind::mobile);
    DeliveryCounters& staging = registry.for_target("staging", SdkKind::server);
    CHECK(&server == &registry.for_target("production", SdkKind::server));
    CHECK(&server != &mobile);
    CHECK(&server != &staging);

    server.events_received += 10;
    server.events_forwarded += 7;
    server.payloads_sent += 2;
    server.retries += 1;
    server.drop(DropReason::rejected, 3);
    mobile.events_received += 5;
    mobile.drop(DropReason::queue_full, 5);

    const CounterRegistry::Totals totals = registry.totals();
    CHECK(totals.received == 15);
    CHECK(totals.forwarded == 7);
    CHECK(totals.dropped == 8);
    CHECK(totals.payloads == 2);
    CHECK(totals.retries == 1);
    CHECK(totals.dropped_by_reason[static_cast<std::size_t>(DropReason::rejected)] == 3);
    CHECK(totals.dropped_by_reason[static_cast<std::size_t>(DropReason::queue_full)] == 5);

    const auto all = registry.all();
    REQUIRE(all.size() == 3);
    bool found = false;
    for (const auto& [key, counters] : all) {
        if (key.first == "production" && key.second == SdkKind::server) {
            found = true;
            CHECK(counters == &server);
        }
    }
    CHECK(found);
}

TEST_CASE("CounterRegistry::count_upstream_status", "[publisher][core]") {
    CounterRegistry registry;
    registry.count_upstream_status(503);
    registry.count_upstream_status(0);
    registry.count_upstream_status(503);
    const auto failures = registry.upstream_failures();
    CHECK(failures.size() == 2);
    CHECK(failures.at(503) == 2);
    CHECK(failures.at(0) == 1);
}
