#pragma once

#include "common_options.hpp"
#include "summarisation.hpp"

#include <CLI/CLI.hpp>

#include <cstddef>
#include <optional>
#include <string>

namespace evrelay {

struct ServeOptions {
    std::string bind = "0.0.0.0";
    std::optional<int> port;                   // default 8030; [Main] port, PORT
    std::optional<std::string> flush_interval; // default 5s; flushInterval, EVENTS_FLUSH_INTERVAL
    std::string max_body = "10MiB";
    bool no_forward = false;
    std::optional<std::string> capture; // FILE or "-"
    bool offline = false;
    std::string shutdown_timeout = "10s";
    std::optional<std::string> tls_cert;
    std::optional<std::string> tls_key;
    std::optional<std::string> tls_min_version; // "1.2" or "1.3"
    std::string header_timeout = "30s";
    std::string body_timeout = "30s";
    std::string idle_timeout = "60s";
    std::size_t max_clients = 4096;   // inbound connections (--max-connections is the upstream's)
    int threads = 0;                  // 0 = one per core
    std::optional<std::string> spool; // DIR (SPEC §7)
    bool durable = false;
    std::string payload_ids = "new";    // the durable drain: new (batches) or preserve
    std::string durable_timeout = "5s"; // a durable post not on disk by then: 503
    std::string spool_segment_bytes = "64MiB";
    std::string spool_segment_age = "1m";
    bool batch_size_given = false; // set by the flag: otherwise [Events] capacity applies
    UpstreamOptions upstream;
    FlagDataFlags flag_data; // SPEC §8: --flags, --base-uri, --flags-poll-interval
    BatchOptions batch;
};

void add_serve_command(CLI::App& app, ServeOptions& options);
int run_serve(const ServeOptions& options);

} // namespace evrelay
