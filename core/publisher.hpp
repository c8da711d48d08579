#pragma once

#include "core/counters.hpp"
#include "core/endpoint.hpp"
#include "core/memory_budget.hpp"
#include "core/metadata.hpp"
#include "core/payload.hpp"

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace evrelay {

struct PublisherOptions {
    std::size_t batch_size = 1000;          // events per payload (Relay's capacity)
    std::size_t batch_bytes = 4u << 20;     // uncompressed bytes per payload
    // true: publish() waits for --max-pending room (replay, flush: the source can slow down).
    // false: keep what fits and overflow the rest (serve: an HTTP handler must not block).
    bool wait_for_room = false;
};

// Where events that did not fit under --max-pending go (SPEC §3: spooled when a spool is
// configured, else dropped and counted). Called without the publisher's lock held.
class OverflowHandler {
  public:
    virtual ~OverflowHandler() = default;
    virtual void on_overflow(const std::string& env_name, SdkKind sdk, const PayloadMetadata& metadata,
                             const std::vector<std::string_view>& events) = 0;
};

struct PublishResult {
    std::size_t accepted = 0;
    std::size_t overflowed = 0;
};

// Buffers the events of one (environment, SDK kind) in one queue per distinct metadata and cuts
// them into payloads (SPEC §3). Each queue is one contiguous arena holding "e1,e2,…" exactly as
// the events will be sent, so queued memory is the events' bytes plus a comma each.
// Thread-safe: one mutex; payloads are handed to the sink after the lock is released, because
// the sink may block for back-pressure.
class Publisher {
  public:
    Publisher(std::string env_name, SdkKind sdk, PublisherOptions options, PayloadSink& sink,
              MemoryBudget& budget, DeliveryCounters& counters, OverflowHandler* overflow = nullptr);
    ~Publisher();
    Publisher(const Publisher&) = delete;
    Publisher& operator=(const Publisher&) = delete;

    // Appends events (each the raw bytes of one JSON object). Cuts a payload as soon as a queue
    // reaches batch_size events or batch_bytes bytes.
    PublishResult publish(const PayloadMetadata& metadata, const std::vector<std::string_view>& events);

    // Cuts every non-empty queue into one payload with a new payload ID. When more than one
    // queue exists, queues that received nothing since the previous flush are discarded.
    void flush();

    // Stops accepting (later publishes overflow) and flushes.
    void close();

    std::size_t queued_events() const;
    std::size_t queued_bytes() const;
    std::size_t queue_count() const;
    const std::string& env_name() const { return m_env_name; }
    SdkKind sdk() const { return m_sdk; }

  private:
    struct Queue;
    Payload cut_locked(const PayloadMetadata& metadata, Queue& queue);

    std::string m_env_name;
    SdkKind m_sdk;
    PublisherOptions m_options;
    PayloadSink& m_sink;
    MemoryBudget& m_budget;
    DeliveryCounters& m_counters;
    OverflowHandler* m_overflow;

    mutable std::mutex m_mutex;
    std::unordered_map<PayloadMetadata, std::unique_ptr<Queue>, PayloadMetadataHash> m_queues;
    bool m_closed = false;
    bool m_in_overflow_episode = false;
};

} // namespace evrelay
