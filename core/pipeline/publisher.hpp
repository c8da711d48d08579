#pragma once

#include "core/model/counters.hpp"
#include "core/model/delivery_listener.hpp"
#include "core/model/endpoint.hpp"
#include "core/model/memory_budget.hpp"
#include "core/model/metadata.hpp"
#include "core/model/payload.hpp"

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace evrelay {

struct PublisherOptions {
    std::size_t batch_size = 1000;      // events per payload (Relay's capacity)
    std::size_t batch_bytes = 4u << 20; // uncompressed bytes per payload
    // true: publish() waits for --max-pending room (replay, flush: the source can slow down).
    // false: keep what fits and overflow the rest (serve: an HTTP handler must not block).
    bool wait_for_room = false;
    // Called (without locks) when a waiting publish found no room for a while: the owner of all
    // publishers flushes them all, since another publisher's queued events may be what holds
    // the budget. Unset: the waiting publisher cuts only its own queues.
    std::function<void()> on_starved;
};

struct PublishResult {
    std::size_t accepted = 0;
    std::size_t overflowed = 0;
};

// Buffers the events of one (environment, SDK kind) in one queue per distinct metadata and cuts
// them into payloads (SPEC §3). Each queue is an arena holding "e1,e2,…" exactly as the events
// will be sent, so queued memory is the events' bytes plus a comma each, plus bounded slack (the
// arena is a list of chunks copied once into the payload body at cut time; publisher.cpp says
// why). Events published after close() overflow like events that do not fit (counted as
// DropReason::queue_full, or handed to the OverflowHandler).
// Thread-safe: one mutex; payloads are handed to the sink after the lock is released, because
// the sink may block for back-pressure.
class Publisher {
  public:
    Publisher(std::string env_name, SdkKind sdk, PublisherOptions options, PayloadSink& sink,
              MemoryBudget& budget, DeliveryCounters& counters,
              OverflowHandler* overflow = nullptr);
    ~Publisher();
    Publisher(const Publisher&) = delete;
    Publisher& operator=(const Publisher&) = delete;

    // Appends events (each the raw bytes of one JSON object). Cuts a payload as soon as a queue
    // reaches batch_size events or batch_bytes bytes.
    PublishResult publish(const PayloadMetadata& metadata,
                          const std::vector<std::string_view>& events);

    // Cuts every non-empty queue into one payload with a new payload ID. When more than one
    // queue exists, queues that received nothing since the previous flush are discarded.
    void flush();

    // Stops accepting (later publishes overflow) and flushes.
    void close();

    std::size_t queued_events() const;
    // Bytes the queued events hold against the MemoryBudget (each event's size plus one).
    std::size_t queued_bytes() const;
    // Bytes allocated for the queues' arenas (>= the queued events' bytes); what the
    // memory target (<= 1.1x the events' bytes for a busy queue) is measured against.
    std::size_t queued_capacity_bytes() const;
    std::size_t queue_count() const;
    const std::string& env_name() const { return m_env_name; }
    SdkKind sdk() const { return m_sdk; }

  private:
    struct Queue;
    Payload cut_locked(const PayloadMetadata& metadata, Queue& queue);
    // Appends events[begin, end) (their budget bytes already acquired) to the metadata's queue,
    // moving every payload cut on the way into `cut`.
    void append_locked(const PayloadMetadata& metadata, const std::vector<std::string_view>& events,
                       std::size_t begin, std::size_t end, std::vector<Payload>& cut);
    // Cuts every non-empty queue without discarding idle ones (back-pressure in publish()).
    std::vector<Payload> cut_all_locked();
    void submit(std::vector<Payload>& payloads);
    // Logs once per publisher that events arrive after close(). Needs m_mutex.
    bool take_closed_warning_locked();
    void warn_closed() const;
    // Sends events[begin, end) to the OverflowHandler or counts them as dropped.
    void overflow(const PayloadMetadata& metadata, const std::vector<std::string_view>& events,
                  std::size_t begin);
    PublishResult publish_waiting(const PayloadMetadata& metadata,
                                  const std::vector<std::string_view>& events);
    PublishResult publish_or_overflow(const PayloadMetadata& metadata,
                                      const std::vector<std::string_view>& events);

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
    bool m_warned_closed = false;
};

} // namespace evrelay
