#include "core/pipeline/dispatcher.hpp"

namespace evrelay {

Dispatcher::Dispatcher(PublisherOptions options, PayloadSink& sink, MemoryBudget& budget,
                       CounterRegistry& counters, OverflowHandler* overflow)
    : m_options(std::move(options)), m_sink(sink), m_budget(budget), m_counters(counters),
      m_overflow(overflow) {
    // A waiting publish may be starved by other publishers' queued events (nothing in flight
    // to free room): flushing every publisher turns them into payloads whose delivery does.
    m_options.on_starved = [this] { flush_all(); };
}

Publisher& Dispatcher::publisher_for(const std::string& env_name, SdkKind sdk) {
    std::lock_guard lock(m_mutex);
    auto& slot = m_publishers[{env_name, sdk}];
    if (!slot) {
        slot = std::make_unique<Publisher>(env_name, sdk, m_options, m_sink, m_budget,
                                           m_counters.for_target(env_name, sdk), m_overflow);
    }
    return *slot;
}

PublishResult Dispatcher::publish(const std::string& env_name, SdkKind sdk,
                                  const PayloadMetadata& metadata,
                                  const std::vector<std::string_view>& events) {
    // Publishers are never removed before close_all(), so the reference outlives the lock.
    return publisher_for(env_name, sdk).publish(metadata, events);
}

void Dispatcher::forward_diagnostic(
    const std::string& env_name, SdkKind sdk, std::string body,
    std::vector<std::pair<std::string, std::string>> passthrough_headers) {
    Payload payload;
    payload.env_name = env_name;
    payload.sdk = sdk;
    payload.data = DataKind::diagnostic;
    payload.event_count = 1;
    payload.passthrough_headers = std::move(passthrough_headers);
    payload.body = std::move(body);
    auto& counters = m_counters.for_target(env_name, sdk);
    counters.events_received.fetch_add(1, std::memory_order_relaxed);
    // Diagnostics are small and rare; they still count against --max-pending so that a flood of
    // them cannot grow memory without bound, but they never wait for room.
    if (m_budget.try_acquire(payload.body.size())) {
        payload.lease = BudgetLease(m_budget, payload.body.size());
    }
    m_sink.submit(std::move(payload));
}

void Dispatcher::forward_payload(Payload payload) {
    auto& counters = m_counters.for_target(payload.env_name, payload.sdk);
    counters.events_received.fetch_add(payload.event_count, std::memory_order_relaxed);
    if (payload.lease.bytes() == 0) {
        m_budget.acquire(payload.body.size());
        payload.lease = BudgetLease(m_budget, payload.body.size());
    }
    m_sink.submit(std::move(payload));
}

void Dispatcher::flush_all() {
    std::vector<Publisher*> publishers;
    {
        std::lock_guard lock(m_mutex);
        for (auto& [key, publisher] : m_publishers) {
            publishers.push_back(publisher.get());
        }
    }
    // Flushed outside the lock: a flush may block in the sink for back-pressure.
    for (Publisher* publisher : publishers) {
        publisher->flush();
    }
}

void Dispatcher::close_all() {
    std::vector<Publisher*> publishers;
    {
        std::lock_guard lock(m_mutex);
        for (auto& [key, publisher] : m_publishers) {
            publishers.push_back(publisher.get());
        }
    }
    for (Publisher* publisher : publishers) {
        publisher->close();
    }
}

std::size_t Dispatcher::queued_events() const {
    std::lock_guard lock(m_mutex);
    std::size_t total = 0;
    for (const auto& [key, publisher] : m_publishers) {
        total += publisher->queued_events();
    }
    return total;
}

std::size_t Dispatcher::publisher_count() const {
    std::lock_guard lock(m_mutex);
    return m_publishers.size();
}

} // namespace evrelay
