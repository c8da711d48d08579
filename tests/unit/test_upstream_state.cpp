#include "core/pipeline/upstream_state.hpp"

#include <catch2/catch.hpp>

#include <thread>

using namespace evrelay;

namespace {

class CountingListener : public DeliveryListener {
  public:
    void on_delivered(const Payload&, long) override { ++delivered; }
    void on_undeliverable(Payload payload, Undeliverable, long) override {
        ++undeliverable;
        last_events = payload.event_count;
    }
    int delivered = 0;
    int undeliverable = 0;
    std::size_t last_events = 0;
};

} // namespace

TEST_CASE("UpstreamStateTracker", "[inbound]") {
    CountingListener next;
    UpstreamStateTracker tracker(next);
    CHECK(tracker.state() == UpstreamState::unknown);
    Payload payload;
    payload.event_count = 7;
    tracker.on_undeliverable(Payload{}, Undeliverable::shutdown, 0);
    CHECK(tracker.state() == UpstreamState::unknown);
    tracker.on_undeliverable(std::move(payload), Undeliverable::retries_exhausted, 503);
    CHECK(tracker.state() == UpstreamState::failing);
    CHECK(next.last_events == 7);
    tracker.on_delivered(Payload{}, 202);
    CHECK(tracker.state() == UpstreamState::ok);
    tracker.on_undeliverable(Payload{}, Undeliverable::too_large, 413);
    CHECK(tracker.state() == UpstreamState::ok);
    tracker.on_undeliverable(Payload{}, Undeliverable::rejected, 401);
    CHECK(tracker.state() == UpstreamState::rejected);
    CHECK(to_string(tracker.state()) == "rejected");
    CHECK(next.delivered == 1);
    CHECK(next.undeliverable == 4);
}

TEST_CASE("UpstreamStateTracker::since moves only when the state changes", "[inbound]") {
    CountingListener next;
    const auto before = std::chrono::system_clock::now() - std::chrono::milliseconds(1);
    UpstreamStateTracker tracker(next);
    const auto created = tracker.since();
    CHECK(created >= before);
    tracker.on_delivered(Payload{}, 202);
    const auto ok_since = tracker.since();
    CHECK(ok_since >= created);
    // Wait past the clock's millisecond so a second change is visible.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    tracker.on_delivered(Payload{}, 202);
    CHECK(tracker.since() == ok_since);
    tracker.on_undeliverable(Payload{}, Undeliverable::retries_exhausted, 503);
    const auto failing_since = tracker.since();
    CHECK(failing_since > ok_since);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    tracker.on_undeliverable(Payload{}, Undeliverable::retries_exhausted, 503);
    CHECK(tracker.since() == failing_since);
}
