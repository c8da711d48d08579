#include "core/spool/spool_line.hpp"

#include "core/util/uuid.hpp"

namespace evrelay {

Payload payload_of(const CaptureRecord& record, std::size_t event_count) {
    Payload payload;
    payload.id = record.payload_id.value_or("");
    if (payload.id.empty() && record.kind == DataKind::analytics) {
        payload.id = util::make_uuid_v4();
    }
    payload.env_name = record.env_name;
    payload.sdk = record.sdk;
    payload.data = record.kind;
    payload.metadata = record.metadata;
    payload.body = std::string(record.events_json);
    payload.event_count = event_count;
    payload.created = record.received;
    return payload;
}

} // namespace evrelay
