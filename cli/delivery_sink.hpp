#pragma once

#include "common_options.hpp"

#include "core/model/counters.hpp"
#include "core/upstream/dry_run_printer.hpp"
#include "core/model/environment.hpp"
#include "core/upstream/sender.hpp"

#include <memory>

namespace evrelay {

// Where a subcommand that has --dry-run sends its payloads: the Sender, or a DryRunPrinter on
// stdout that shows the same requests (replay, flush).
struct DeliverySink {
    std::unique_ptr<PayloadSink> sink;
    Sender* sender = nullptr;         // set when sending
    DryRunPrinter* printer = nullptr; // set with --dry-run
};

DeliverySink make_delivery_sink(bool dry_run, const UpstreamSettings& settings,
                                const EnvironmentTable& environments, DeliveryListener& listener,
                                CounterRegistry& counters);

} // namespace evrelay
