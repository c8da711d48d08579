#pragma once

#include "core/counters.hpp"
#include "core/dispatcher.hpp"
#include "core/event_reader.hpp"
#include "core/pacer.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace evrelay {

// Where replayed events go when the input does not say (formats 2 and 3), or when a target
// overrides what capture envelopes say (SPEC §5: credentials given override the capture's).
struct ReplayTarget {
    std::optional<std::string> env_name; // all events to this environment
    SdkKind sdk = SdkKind::server;       // for formats 2 and 3
    PayloadMetadata metadata{4, ""};     // for formats 2 and 3
};

// Where one input item's events go: the capture envelope's SDK kind and metadata, and its
// environment unless the target names one; for items without an envelope, the target's.
struct ItemDestination {
    std::string env_name;
    SdkKind sdk = SdkKind::server;
    PayloadMetadata metadata;
};
ItemDestination destination_of(const InputItem& item, const ReplayTarget& target);

struct ReplayJobOptions {
    std::vector<std::string> inputs; // "-" = stdin
    std::optional<InputFormat> format;
    ReplayTarget target;
    bool preserve_payload_ids = false;
    bool strict = false;
    std::optional<double> rate;  // events per second
    std::optional<double> speed; // times the recorded pace
    std::size_t max_events_per_item = 1000;
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
