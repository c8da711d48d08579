#include "core/pipeline/publisher.hpp"

#include "core/util/uuid.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

namespace evrelay {

namespace {

// How long a waiting publish lets in-flight payloads make room before it cuts its own queues.
constexpr std::chrono::milliseconds k_room_wait_before_cut{200};

// Arena growth. A queue's bytes live in a list of chunks that are concatenated once, into the
// payload body, when the queue is cut. Why not one std::string per queue: its capacity doubles,
// so up to half of it is unused (2x the events' bytes), and every doubling copies everything
// queued so far. Growing a single string by a small factor instead (1/8 or 1/16) keeps the slack
// low but copies each byte ~16 times before a 4 MiB cut. Chunks are never copied while queued;
// the one copy at cut time is the body the payload needs anyway, and it is allocated exactly.
//
// Chunk sizes: a new chunk holds at least what the current publish will still put into this
// queue before its next cut (so a post of 50 events costs one exact allocation), and at least
// 1/16 of what is queued, capped at 1 MiB (so a stream of one-event posts does not allocate per
// event). Slack is therefore at most the last chunk's unused part: <= max(4 KiB, queued/16),
// i.e. <= 1.0625x for a busy queue, and no more than 4 KiB for an idle small one. The first
// chunk of a queue is exact, so queues that receive one post per flush waste nothing.
constexpr std::size_t k_min_growth_chunk = 4 * 1024;
constexpr std::size_t k_max_growth_chunk = 1024 * 1024;
constexpr std::size_t k_growth_divisor = 16;

// What one event holds against the MemoryBudget: its bytes plus the comma (or bracket) that
// joins it to the others.
std::size_t budget_cost(std::string_view event) {
    return event.size() + 1;
}

class EventArena {
  public:
    std::size_t size() const { return m_size; }
    std::size_t capacity() const { return m_capacity; }
    std::size_t room() const { return m_capacity - m_size; }

    // Makes room for `incoming` more bytes (one new chunk at most).
    void reserve(std::size_t incoming) {
        if (incoming <= room()) {
            return;
        }
        const std::size_t growth = m_size == 0 ? 0
                                               : std::clamp(m_size / k_growth_divisor,
                                                            k_min_growth_chunk, k_max_growth_chunk);
        const std::size_t chunk_size = std::max(incoming - room(), growth);
        m_chunks.push_back(
            Chunk{std::make_unique_for_overwrite<char[]>(chunk_size), 0, chunk_size});
        m_capacity += chunk_size;
    }

    void append(std::string_view data) {
        reserve(data.size());
        while (!data.empty()) {
            Chunk& chunk = m_chunks[m_current];
            const std::size_t n = std::min(chunk.capacity - chunk.size, data.size());
            std::memcpy(chunk.data.get() + chunk.size, data.data(), n);
            chunk.size += n;
            m_size += n;
            data.remove_prefix(n);
            if (chunk.size == chunk.capacity && m_current + 1 < m_chunks.size()) {
                ++m_current;
            }
        }
    }

    void push_back(char c) { append(std::string_view(&c, 1)); }

    // "[" + contents + "]", allocated exactly; empties the arena and frees its chunks.
    std::string take_body() {
        std::string body;
        body.reserve(m_size + 2);
        body.push_back('[');
        for (const Chunk& chunk : m_chunks) {
            body.append(chunk.data.get(), chunk.size);
        }
        body.push_back(']');
        m_chunks.clear();
        m_current = 0;
        m_size = 0;
        m_capacity = 0;
        return body;
    }

  private:
    struct Chunk {
        std::unique_ptr<char[]> data;
        std::size_t size = 0;
        std::size_t capacity = 0;
    };
    // Chunks before m_current are full, chunks after it empty.
    std::vector<Chunk> m_chunks;
    std::size_t m_current = 0;
    std::size_t m_size = 0;
    std::size_t m_capacity = 0;
};

} // namespace

struct Publisher::Queue {
    EventArena arena; // "e1,e2,…"
    std::size_t events = 0;
    std::size_t budget_bytes = 0; // sum of budget_cost() of the queued events
    bool received_since_flush = true;

    std::size_t body_size() const { return arena.size() + 2; }
};

Publisher::Publisher(std::string env_name, SdkKind sdk, PublisherOptions options, PayloadSink& sink,
                     MemoryBudget& budget, DeliveryCounters& counters, OverflowHandler* overflow)
    : m_env_name(std::move(env_name)), m_sdk(sdk), m_options(std::move(options)), m_sink(sink),
      m_budget(budget), m_counters(counters), m_overflow(overflow) {
    // A batch of zero events would never be cut; one is the smallest meaningful batch.
    m_options.batch_size = std::max<std::size_t>(m_options.batch_size, 1);
}

Publisher::~Publisher() {
    // Destruction does not submit: the sink may already be gone. Owners call close() first;
    // whatever is still queued here is lost, and that is counted and said, never silent.
    std::size_t lost_events = 0;
    std::size_t lost_bytes = 0;
    for (const auto& [metadata, queue] : m_queues) {
        lost_events += queue->events;
        lost_bytes += queue->budget_bytes;
    }
    if (lost_bytes != 0) {
        m_budget.release(lost_bytes);
    }
    if (lost_events != 0) {
        m_counters.drop(DropReason::shutdown, lost_events);
        spdlog::warn("publisher for {} ({}) destroyed with {} queued events; they are lost",
                     m_env_name, to_string(m_sdk), lost_events);
    }
}

PublishResult Publisher::publish(const PayloadMetadata& metadata,
                                 const std::vector<std::string_view>& events) {
    if (events.empty()) {
        return {};
    }
    const PublishResult result = m_options.wait_for_room ? publish_waiting(metadata, events)
                                                         : publish_or_overflow(metadata, events);
    m_counters.events_received.fetch_add(result.accepted + result.overflowed,
                                         std::memory_order_relaxed);
    return result;
}

PublishResult Publisher::publish_waiting(const PayloadMetadata& metadata,
                                         const std::vector<std::string_view>& events) {
    const std::size_t limit = m_budget.limit();
    bool warn = false;
    std::size_t begin = 0;
    while (begin < events.size()) {
        // Normally the whole publish is one group; only a publish larger than the whole budget
        // is taken in limit-sized groups, each appended (and possibly cut) before the next waits.
        std::size_t end = begin;
        std::size_t bytes = 0;
        while (end < events.size() && (end == begin || bytes + budget_cost(events[end]) <= limit)) {
            bytes += budget_cost(events[end]);
            ++end;
        }
        if (!m_budget.try_acquire(bytes)) {
            // Usually payloads in flight hold the budget and their delivery makes room: wait for
            // it, so that queues still fill to full payloads (cutting at once under pressure
            // made payloads four times smaller and gzip on replay twice slower, measured). If
            // nothing frees room for a while, our own queued events may be what fills the
            // budget: hand them to the sink so their delivery can. Never wait holding m_mutex:
            // the releases we wait for may need it.
            while (!m_budget.acquire_for(bytes, k_room_wait_before_cut)) {
                if (m_options.on_starved) {
                    m_options.on_starved();
                    continue;
                }
                std::vector<Payload> cut;
                {
                    std::lock_guard lock(m_mutex);
                    cut = cut_all_locked();
                }
                submit(cut);
            }
        }
        std::vector<Payload> cut;
        bool closed = false;
        {
            std::lock_guard lock(m_mutex);
            closed = m_closed;
            if (closed) {
                warn = take_closed_warning_locked();
            } else {
                append_locked(metadata, events, begin, end, cut);
            }
        }
        if (closed) {
            m_budget.release(bytes);
            break;
        }
        submit(cut);
        begin = end;
    }
    if (warn) {
        warn_closed();
    }
    if (begin < events.size()) {
        overflow(metadata, events, begin);
    }
    return PublishResult{begin, events.size() - begin};
}

PublishResult Publisher::publish_or_overflow(const PayloadMetadata& metadata,
                                             const std::vector<std::string_view>& events) {
    std::size_t total = 0;
    for (const std::string_view event : events) {
        total += budget_cost(event);
    }
    // One budget operation for the whole post in the common case; only when it does not fit is
    // the longest fitting prefix looked for.
    std::size_t accepted = events.size();
    std::size_t acquired = total;
    if (!m_budget.try_acquire(total)) {
        accepted = 0;
        acquired = 0;
        // Other threads may take the room between available() and try_acquire(); a few retries
        // with a fresh snapshot are enough, giving up just means overflowing more.
        for (int attempt = 0; attempt < 4; ++attempt) {
            const std::size_t available = m_budget.available();
            std::size_t count = 0;
            std::size_t bytes = 0;
            while (count < events.size() && bytes + budget_cost(events[count]) <= available) {
                bytes += budget_cost(events[count]);
                ++count;
            }
            if (count == 0) {
                break;
            }
            if (m_budget.try_acquire(bytes)) {
                accepted = count;
                acquired = bytes;
                break;
            }
        }
    }

    std::vector<Payload> cut;
    bool closed = false;
    bool warn_overflow = false;
    bool warn_after_close = false;
    {
        std::lock_guard lock(m_mutex);
        closed = m_closed;
        if (closed) {
            warn_after_close = take_closed_warning_locked();
        } else {
            if (accepted != 0) {
                append_locked(metadata, events, 0, accepted, cut);
            }
            if (accepted < events.size()) {
                warn_overflow = !m_in_overflow_episode;
                m_in_overflow_episode = true;
            } else {
                m_in_overflow_episode = false;
            }
        }
    }
    if (closed) {
        m_budget.release(acquired);
        accepted = 0;
    }
    submit(cut);

    const std::size_t overflowed = events.size() - accepted;
    if (warn_overflow) {
        spdlog::warn("exceeded event queue capacity for {} ({}): --max-pending of {} bytes is in "
                     "use; {} events that did not fit are {} (not logged again until events fit)",
                     m_env_name, to_string(m_sdk), m_budget.limit(), overflowed,
                     m_overflow != nullptr ? "spooled" : "dropped");
    }
    if (warn_after_close) {
        warn_closed();
    }
    if (overflowed != 0) {
        overflow(metadata, events, accepted);
    }
    return PublishResult{accepted, overflowed};
}

bool Publisher::take_closed_warning_locked() {
    const bool first = !m_warned_closed;
    m_warned_closed = true;
    return first;
}

void Publisher::warn_closed() const {
    spdlog::warn("events for {} ({}) published after shutdown began are {}", m_env_name,
                 to_string(m_sdk), m_overflow != nullptr ? "spooled" : "dropped");
}

void Publisher::overflow(const PayloadMetadata& metadata,
                         const std::vector<std::string_view>& events, std::size_t begin) {
    if (begin >= events.size()) {
        return;
    }
    if (m_overflow != nullptr) {
        const std::vector<std::string_view> rest(
            events.begin() + static_cast<std::ptrdiff_t>(begin), events.end());
        m_overflow->on_overflow(m_env_name, m_sdk, metadata, rest);
    } else {
        // Events refused after close() are counted here too: they did not fit because the
        // publisher no longer takes any (see the report of the publisher's author).
        m_counters.drop(DropReason::queue_full, events.size() - begin);
    }
}

namespace {

// Bytes the queue will take from events[begin, end) before it is next cut, following the same
// rules as append_locked(); sizes the arena's next chunk exactly.
std::size_t bytes_until_cut(std::size_t queued_events, std::size_t body_size,
                            const PublisherOptions& options,
                            const std::vector<std::string_view>& events, std::size_t begin,
                            std::size_t end) {
    std::size_t count = queued_events;
    std::size_t body = body_size;
    std::size_t total = 0;
    for (std::size_t i = begin; i < end; ++i) {
        const std::size_t add = events[i].size() + (count == 0 ? 0 : 1);
        if (count != 0 && body + add > options.batch_bytes) {
            break;
        }
        total += add;
        body += add;
        ++count;
        if (count >= options.batch_size || body >= options.batch_bytes) {
            break;
        }
    }
    return total;
}

// events[begin, end) as one span when each is followed by a ',' and then the next (a compact
// JSON array), else empty.
std::string_view contiguous_span(const std::vector<std::string_view>& events, std::size_t begin,
                                 std::size_t end) {
    if (begin >= end) {
        return {};
    }
    for (std::size_t i = begin; i + 1 < end; ++i) {
        const char* after = events[i].data() + events[i].size();
        if (after + 1 != events[i + 1].data() || *after != ',') {
            return {};
        }
    }
    const char* first = events[begin].data();
    const char* last_end = events[end - 1].data() + events[end - 1].size();
    return std::string_view(first, static_cast<std::size_t>(last_end - first));
}

} // namespace

void Publisher::append_locked(const PayloadMetadata& metadata,
                              const std::vector<std::string_view>& events, std::size_t begin,
                              std::size_t end, std::vector<Payload>& cut) {
    auto it = m_queues.find(metadata);
    if (it == m_queues.end()) {
        it = m_queues.emplace(metadata, std::make_unique<Queue>()).first;
    }
    const PayloadMetadata& key = it->first;
    Queue& queue = *it->second;
    queue.received_since_flush = true;

    // A compact post ("[e1,e2,…]", what SDKs send) whose events all fit before the next cut: they
    // are one contiguous span of its body, copied at once instead of two copies per event.
    if (const std::string_view span = contiguous_span(events, begin, end);
        !span.empty() && queue.events + (end - begin) < m_options.batch_size &&
        queue.body_size() + 1 + span.size() < m_options.batch_bytes) {
        const std::size_t add = span.size() + (queue.events == 0 ? 0 : 1);
        if (queue.arena.room() < add) {
            queue.arena.reserve(add);
        }
        if (queue.events != 0) {
            queue.arena.push_back(',');
        }
        queue.arena.append(span);
        queue.events += end - begin;
        queue.budget_bytes += span.size() + 1; // the events' budget_cost() summed
        return;
    }

    for (std::size_t i = begin; i < end; ++i) {
        const std::string_view event = events[i];
        // Cut before an event that would push the body past batch_bytes, so a body exceeds it
        // only when it is a single event that is larger on its own.
        if (queue.events != 0 && queue.body_size() + 1 + event.size() > m_options.batch_bytes) {
            cut.push_back(cut_locked(key, queue));
        }
        const std::size_t add = event.size() + (queue.events == 0 ? 0 : 1);
        if (queue.arena.room() < add) {
            queue.arena.reserve(
                bytes_until_cut(queue.events, queue.body_size(), m_options, events, i, end));
        }
        if (queue.events != 0) {
            queue.arena.push_back(',');
        }
        queue.arena.append(event);
        ++queue.events;
        queue.budget_bytes += budget_cost(event);
        if (queue.events >= m_options.batch_size || queue.body_size() >= m_options.batch_bytes) {
            cut.push_back(cut_locked(key, queue));
        }
    }
}

Payload Publisher::cut_locked(const PayloadMetadata& metadata, Queue& queue) {
    Payload payload;
    payload.id = util::make_uuid_v4();
    payload.env_name = m_env_name;
    payload.sdk = m_sdk;
    payload.data = DataKind::analytics;
    payload.metadata = metadata;
    payload.body = queue.arena.take_body();
    payload.event_count = queue.events;
    payload.lease = BudgetLease(m_budget, queue.budget_bytes);
    queue.events = 0;
    queue.budget_bytes = 0;
    return payload;
}

std::vector<Payload> Publisher::cut_all_locked() {
    std::vector<Payload> cut;
    for (auto& [metadata, queue] : m_queues) {
        if (queue->events != 0) {
            cut.push_back(cut_locked(metadata, *queue));
        }
    }
    return cut;
}

void Publisher::submit(std::vector<Payload>& payloads) {
    // Called without m_mutex: the sink may block for back-pressure, and publishers of other
    // threads must be able to go on queueing meanwhile.
    for (Payload& payload : payloads) {
        m_sink.submit(std::move(payload));
    }
    payloads.clear();
}

void Publisher::flush() {
    std::vector<Payload> cut;
    {
        std::lock_guard lock(m_mutex);
        // As Relay: with several metadata in use, a queue idle for a whole interval is dropped so
        // that one-off tags or schemas do not accumulate queues forever.
        const bool discard_idle = m_queues.size() > 1;
        for (auto it = m_queues.begin(); it != m_queues.end();) {
            Queue& queue = *it->second;
            if (queue.events != 0) {
                cut.push_back(cut_locked(it->first, queue));
            }
            if (discard_idle && !queue.received_since_flush) {
                it = m_queues.erase(it);
                continue;
            }
            queue.received_since_flush = false;
            ++it;
        }
    }
    submit(cut);
}

void Publisher::close() {
    {
        std::lock_guard lock(m_mutex);
        m_closed = true;
    }
    flush();
}

std::size_t Publisher::queued_events() const {
    std::lock_guard lock(m_mutex);
    std::size_t total = 0;
    for (const auto& [metadata, queue] : m_queues) {
        total += queue->events;
    }
    return total;
}

std::size_t Publisher::queued_bytes() const {
    std::lock_guard lock(m_mutex);
    std::size_t total = 0;
    for (const auto& [metadata, queue] : m_queues) {
        total += queue->budget_bytes;
    }
    return total;
}

std::size_t Publisher::queued_capacity_bytes() const {
    std::lock_guard lock(m_mutex);
    std::size_t total = 0;
    for (const auto& [metadata, queue] : m_queues) {
        total += queue->arena.capacity();
    }
    return total;
}

std::size_t Publisher::queue_count() const {
    std::lock_guard lock(m_mutex);
    return m_queues.size();
}

} // namespace evrelay
