#pragma once

#include "core/model/counters.hpp"
#include "core/model/endpoint.hpp"
#include "core/model/memory_budget.hpp"
#include "core/model/metadata.hpp"
#include "core/model/payload.hpp"
#include "core/pipeline/publisher.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace evrelay {

// Routes events to the publisher of their (environment, SDK kind), creating publishers on first
// use, and passes diagnostic events straight to the sink (they are never batched, SPEC §2).
// Every source (HTTP listener, replay files, spool) feeds this; none of them knows the others.
// Thread-safe.
class Dispatcher {
  public:
    Dispatcher(PublisherOptions options, PayloadSink& sink, MemoryBudget& budget,
               CounterRegistry& counters, OverflowHandler* overflow = nullptr);

    PublishResult publish(const std::string& env_name, SdkKind sdk, const PayloadMetadata& metadata,
                          const std::vector<std::string_view>& events);

    // Forwards one diagnostic event unchanged. `passthrough_headers` are the inbound headers to
    // repeat upstream (empty for replayed diagnostics: the sender then uses its own).
    void
    forward_diagnostic(const std::string& env_name, SdkKind sdk, std::string body,
                       std::vector<std::pair<std::string, std::string>> passthrough_headers = {});

    // Sends a payload as it is (replay --payload-ids preserve, spool): no re-batching.
    void forward_payload(Payload payload);

    void flush_all();
    void close_all();

    std::size_t queued_events() const;
    std::size_t publisher_count() const;

  private:
    Publisher& publisher_for(const std::string& env_name, SdkKind sdk);

    PublisherOptions m_options;
    PayloadSink& m_sink;
    MemoryBudget& m_budget;
    CounterRegistry& m_counters;
    OverflowHandler* m_overflow;

    mutable std::mutex m_mutex;
    std::map<std::pair<std::string, SdkKind>, std::unique_ptr<Publisher>> m_publishers;
};

} // namespace evrelay
