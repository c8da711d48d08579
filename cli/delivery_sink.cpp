#include "delivery_sink.hpp"

#include <cstdio>

namespace evrelay {

DeliverySink make_delivery_sink(bool dry_run, const UpstreamSettings& settings,
                                const EnvironmentTable& environments, DeliveryListener& listener,
                                CounterRegistry& counters) {
    DeliverySink result;
    if (dry_run) {
        UpstreamRequestOptions request_options{settings.sender.events_uri,
                                               settings.sender.user_agent, settings.sender.gzip};
        auto printer = std::make_unique<DryRunPrinter>(stdout, environments, request_options);
        result.printer = printer.get();
        result.sink = std::move(printer);
    } else {
        auto sender = std::make_unique<Sender>(settings.sender, environments, listener, counters);
        result.sender = sender.get();
        result.sink = std::move(sender);
    }
    return result;
}

} // namespace evrelay
