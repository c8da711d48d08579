#pragma once

#include "common_options.hpp"
#include "summarisation.hpp"

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace evrelay {

struct FlushOptions {
    std::string spool_dir;
    std::string lock_timeout = "0s";
    std::optional<std::string> max_age;
    bool dry_run = false;
    bool progress = false;    // forced on; default: when stderr is a terminal
    bool no_progress = false; // forced off
    // For incoming/ files without capture envelopes (JSON arrays, NDJSON), as in replay.
    int schema = 4;
    std::string tags;
    std::string sdk = "server";
    std::size_t batch_size = 1000;
    std::string batch_bytes = "4MiB";
    std::string payload_ids = "preserve";
    std::string shutdown_timeout = "10s";
    UpstreamOptions upstream;
    FlagDataFlags flag_data; // SPEC §8: --flags, --base-uri, --flags-poll-interval
};

void add_flush_command(CLI::App& app, FlushOptions& options);
int run_flush(const FlushOptions& options);

} // namespace evrelay
