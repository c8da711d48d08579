#pragma once

#include "core/model/counters.hpp"
#include "core/pipeline/dispatcher.hpp"
#include "core/input/event_reader.hpp"
#include "core/input/item_destination.hpp"
#include "core/replay/pacer.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace evrelay {

struct ReplayJobOptions {
    std::vector<std::string> inputs; // "-" = stdin
    std::optional<InputFormat> format;
    ReplayTarget target;
    bool preserve_payload_ids = false;
    bool strict = false;
    std::optional<double> rate;  // events per second
    std::optional<double> speed; // times the recorded pace
    std::size_t max_events_per_item = 1000;
    // Schema 1–2 and Unsummarized items (needs_summarising, SPEC §8): `summarise` takes their
    // events instead of the dispatcher; with preserve_payload_ids, `summarise_payload` turns an
    // envelope's payload into its schema-4 output (and that envelope's own summary event) under
    // the recorded ID. Empty: such items are published as they are.
    std::function<void(const std::string& env_name, SdkKind sdk, const PayloadMetadata& metadata,
                       const std::vector<std::string_view>& events)>
        summarise;
    std::function<void(Payload& payload)> summarise_payload;
};

// What the reader side saw; delivery outcomes are counted by the CounterRegistry.
struct ReplayReadStats {
    std::atomic<std::uint64_t> events_read{0};
    std::atomic<std::uint64_t> malformed{0};
    std::atomic<std::uint64_t> bytes_read{0}; // raw bytes consumed, for progress
    std::atomic<std::uint64_t> bytes_total{0};
    std::atomic<bool> stopped_by_strict{false};
};

// Reads every input in order and publishes its events through the dispatcher (SPEC §5). It does
// not wait for delivery: the caller closes the dispatcher and drains the sink.
// Returns an Error (io) when an input cannot be opened or read; malformed data is reported
// through `on_problem` and counted, and stops the job only with `strict`.
class ReplayJob {
  public:
    using ProblemHandler = std::function<void(const InputProblem&)>;

    ReplayJob(ReplayJobOptions options, Dispatcher& dispatcher, ProblemHandler on_problem);

    Result<void> run(ReplayReadStats& stats);
    // Asks run() to stop after the item in hand (a signal handler's request); thread-safe.
    void request_stop() { m_stop_requested.store(true); }

  private:
    Result<void> run_input(const std::string& path, ReplayReadStats& stats);
    void publish_item(InputItem& item);

    ReplayJobOptions m_options;
    Dispatcher& m_dispatcher;
    ProblemHandler m_on_problem;
    Pacer m_pacer;
    std::atomic<bool> m_stop_requested{false};
};

} // namespace evrelay
