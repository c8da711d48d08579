#include "core/spool/spool_rebatcher.hpp"

#include "core/util/uuid.hpp"

#include <algorithm>

namespace evrelay {

namespace {

// Batches being filled at once (one per destination met in a segment); when a segment holds more
// destinations than this, the oldest batch is sent to make room, which bounds the memory they
// take to this many times --batch-bytes.
constexpr std::size_t k_max_open_batches = 16;

} // namespace

SpoolRebatcher::SpoolRebatcher(SpoolRebatcherOptions options, SpoolProgress* progress, Send send,
                               Unrecorded unrecorded)
    : m_options(std::move(options)), m_progress(progress), m_send(std::move(send)),
      m_unrecorded(std::move(unrecorded)) {}

std::shared_ptr<const SpoolBatchRecord> SpoolRebatcher::recorded_batch(std::uint64_t line) const {
    return m_progress != nullptr ? m_progress->batch_of(line) : nullptr;
}

SpoolRebatcher::Added SpoolRebatcher::add(const SpoolLineView& line,
                                          std::shared_ptr<const SpoolBatchRecord> recorded) {
    const std::string_view env_name =
        m_options.env_name ? std::string_view(*m_options.env_name) : line.env_name;
    const std::size_t events = line.events;
    const bool seen_before =
        !line.payload_id.empty() && !m_seen_ids.emplace(line.payload_id).second;
    if (!recorded && seen_before) {
        // The same payload ID twice: an SDK sent one post again (a lost 202, a 503). Sent under
        // its own ID the upstream would drop it; in a batch it would count twice.
        return Added::duplicate;
    }
    auto batch = m_batches.end();
    if (recorded) {
        // Sent by an earlier pass that stopped before it ended: formed again, under its ID.
        batch = std::find_if(m_batches.begin(), m_batches.end(),
                             [&](const Batch& open) { return open.recorded == recorded; });
    } else {
        batch = std::find_if(m_batches.begin(), m_batches.end(), [&](const Batch& open) {
            return !open.recorded && open.payload.env_name == env_name &&
                   open.payload.sdk == line.sdk && open.payload.metadata == *line.metadata;
        });
        if (batch != m_batches.end() &&
            (batch->payload.event_count + events > m_options.max_events_per_payload ||
             batch->payload.body.size() + line.events_json.size() >
                 m_options.max_bytes_per_payload)) {
            send(std::move(*batch));
            m_batches.erase(batch);
            batch = m_batches.end();
        }
    }
    // The array's elements, without its brackets (validated JSON: no whitespace around it).
    const std::string_view inner = line.events_json.substr(1, line.events_json.size() - 2);
    if (batch == m_batches.end()) {
        if (m_batches.size() >= k_max_open_batches) {
            send(std::move(m_batches.front()));
            m_batches.pop_front();
        }
        batch = m_batches.emplace(m_batches.end());
        Payload& payload = batch->payload;
        payload.env_name = std::string(env_name);
        payload.sdk = line.sdk;
        payload.data = DataKind::analytics;
        payload.metadata = *line.metadata;
        payload.created = line.received;
        // Room for as many lines like this one as the limits allow, so that the body is not
        // copied again as it grows.
        const std::size_t lines_that_fit =
            m_options.max_events_per_payload / std::max<std::size_t>(events, 1) + 1;
        payload.body.reserve(
            std::min(m_options.max_bytes_per_payload, (inner.size() + 1) * lines_that_fit) + 2);
        payload.body.push_back('[');
        batch->first_id = std::string(line.payload_id);
        batch->recorded = std::move(recorded);
    } else {
        batch->payload.body.push_back(',');
        batch->payload.created = std::min(batch->payload.created, line.received);
    }
    batch->payload.body.append(inner);
    batch->payload.event_count += events;
    batch->lines.push_back(line.line);
    const bool complete = batch->recorded
                              ? line.line == batch->recorded->lines.back()
                              : batch->payload.event_count >= m_options.max_events_per_payload;
    if (complete) {
        send(std::move(*batch));
        m_batches.erase(batch);
    }
    return Added::batched;
}

void SpoolRebatcher::send_all() {
    for (Batch& batch : m_batches) {
        send(std::move(batch));
    }
    m_batches.clear();
}

void SpoolRebatcher::send(Batch batch) {
    if (batch.lines.empty()) {
        return;
    }
    Payload payload = std::move(batch.payload);
    payload.body.push_back(']');
    if (batch.recorded) {
        payload.id = batch.recorded->payload_id;
    } else if (batch.lines.size() == 1 && !batch.first_id.empty()) {
        payload.id = batch.first_id;
    } else {
        payload.id = util::make_uuid_v4();
        if (m_progress != nullptr && batch.lines.size() > 1) {
            // On file before the payload leaves: a crash re-sends these lines under this ID.
            auto recorded = m_progress->record_batch(SpoolBatchRecord{payload.id, batch.lines});
            if (!recorded) {
                m_unrecorded(recorded.error());
                return;
            }
        }
    }
    m_send(std::move(payload), std::move(batch.lines));
}

} // namespace evrelay
