#pragma once

#include "core/model/counters.hpp"
#include "core/model/delivery_listener.hpp"
#include "core/model/payload.hpp"

#include <atomic>

namespace evrelay {

class SpoolDelivery;
class SpoolWriter;

// Where payloads go when the sender gives up on them, with a spool (SPEC §7):
// - payloads read from the spool (origin tag set) go back to the SpoolDelivery, which keeps
//   their lines in the spool — they are never written twice;
// - other undeliverable payloads (retries exhausted, rejected credential, shutdown) and events
//   that overflow --max-pending are appended to the spool with their payload IDs, and counted as
//   spooled; only when that append fails are they passed on to `next` (the DeliveryLedger), which
//   counts them as dropped. A single event the upstream refused as too large is never spooled.
// Either pointer may be null (serve without --spool, flush without a writer). Thread-safe.
class SpoolingListener : public DeliveryListener, public OverflowHandler {
  public:
    SpoolingListener(DeliveryListener& next, CounterRegistry& counters, SpoolWriter* writer,
                     SpoolDelivery* delivery = nullptr);

    void set_delivery(SpoolDelivery* delivery) { m_delivery.store(delivery); }

    void on_delivered(const Payload& payload, long status) override;
    void on_undeliverable(Payload payload, Undeliverable reason, long last_status) override;
    void on_outcomes_reported() override;
    void on_overflow(const std::string& env_name, SdkKind sdk, const PayloadMetadata& metadata,
                     const std::vector<std::string_view>& events) override;

  private:
    DeliveryListener& m_next;
    CounterRegistry& m_counters;
    SpoolWriter* m_writer;
    std::atomic<SpoolDelivery*> m_delivery;
};

} // namespace evrelay
