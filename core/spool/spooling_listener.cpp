#include "core/spool/spooling_listener.hpp"

#include "core/spool/spool_delivery.hpp"
#include "core/spool/spool_writer.hpp"
#include "core/util/uuid.hpp"

namespace evrelay {

SpoolingListener::SpoolingListener(DeliveryListener& next, CounterRegistry& counters,
                                   SpoolWriter* writer, SpoolDelivery* delivery)
    : m_next(next), m_counters(counters), m_writer(writer), m_delivery(delivery) {}

void SpoolingListener::on_delivered(const Payload& payload, long status) {
    if (payload.origin != 0) {
        if (SpoolDelivery* delivery = m_delivery.load(); delivery != nullptr) {
            delivery->on_delivered(payload);
        }
    }
    m_next.on_delivered(payload, status);
}

void SpoolingListener::on_undeliverable(Payload payload, Undeliverable reason, long last_status) {
    if (payload.origin != 0) {
        // Still in its segment: the next pass sends it again with the same payload ID.
        if (SpoolDelivery* delivery = m_delivery.load(); delivery != nullptr) {
            delivery->on_undeliverable(payload, reason, last_status);
        }
        return;
    }
    if (m_writer != nullptr && reason != Undeliverable::too_large) {
        if (m_writer->append(payload)) {
            m_counters.for_target(payload.env_name, payload.sdk)
                .events_spooled.fetch_add(payload.event_count, std::memory_order_relaxed);
            return;
        }
    }
    m_next.on_undeliverable(std::move(payload), reason, last_status);
}

void SpoolingListener::on_outcomes_reported() {
    if (SpoolDelivery* delivery = m_delivery.load(); delivery != nullptr) {
        delivery->write_progress();
    }
    m_next.on_outcomes_reported();
}

void SpoolingListener::on_overflow(const std::string& env_name, SdkKind sdk,
                                   const PayloadMetadata& metadata,
                                   const std::vector<std::string_view>& events) {
    DeliveryCounters& counters = m_counters.for_target(env_name, sdk);
    if (m_writer != nullptr) {
        Payload payload;
        payload.id = util::make_uuid_v4();
        payload.env_name = env_name;
        payload.sdk = sdk;
        payload.metadata = metadata;
        payload.body = join_events(events);
        payload.event_count = events.size();
        if (m_writer->append(payload)) {
            counters.events_spooled.fetch_add(events.size(), std::memory_order_relaxed);
            return;
        }
    }
    counters.drop(DropReason::queue_full, events.size());
}

} // namespace evrelay
