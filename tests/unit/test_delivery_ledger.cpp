#include "core/pipeline/delivery_ledger.hpp"

#include <catch2/catch.hpp>

using namespace evrelay;

TEST_CASE("DeliveryLedger::on_undeliverable", "[ledger]") {
    CounterRegistry counters;
    DeliveryLedger ledger(counters);
    auto make = [](std::size_t events) {
        Payload payload;
        payload.env_name = "production";
        payload.event_count = events;
        return payload;
    };

    ledger.on_undeliverable(make(10), Undeliverable::retries_exhausted, 503);
    ledger.on_undeliverable(make(3), Undeliverable::too_large, 413);
    CHECK_FALSE(ledger.credential_rejected());
    ledger.on_undeliverable(make(5), Undeliverable::rejected, 401);
    ledger.on_undeliverable(make(2), Undeliverable::disabled, 401);
    ledger.on_undeliverable(make(1), Undeliverable::shutdown, 0);

    const auto totals = counters.totals();
    CHECK(totals.dropped == 21);
    CHECK(totals.dropped_by_reason[static_cast<std::size_t>(DropReason::retries_exhausted)] == 10);
    CHECK(totals.dropped_by_reason[static_cast<std::size_t>(DropReason::too_large)] == 3);
    CHECK(totals.dropped_by_reason[static_cast<std::size_t>(DropReason::rejected)] == 7);
    CHECK(totals.dropped_by_reason[static_cast<std::size_t>(DropReason::shutdown)] == 1);
    CHECK(ledger.credential_rejected());
    CHECK_THAT(*ledger.first_rejection(), Catch::Contains("401") && Catch::Contains("production"));
}
