#pragma once

#include "common_options.hpp"
#include "summarisation.hpp"

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

namespace evrelay {

struct ReplayOptions {
    std::vector<std::string> inputs;
    std::string format = "auto";
    int schema = 4;
    std::string tags;
    std::string sdk = "server";
    std::string payload_ids = "new";
    std::optional<double> rate;
    std::optional<double> speed;
    bool dry_run = false;
    bool strict = false;
    bool progress = false;    // forced on; default: when stderr is a terminal
    bool no_progress = false; // forced off
    std::string shutdown_timeout = "10s";
    UpstreamOptions upstream;
    FlagDataFlags flag_data; // SPEC §8: --flags, --base-uri, --flags-poll-interval
    BatchOptions batch;
};

void add_replay_command(CLI::App& app, ReplayOptions& options);
int run_replay(const ReplayOptions& options);

} // namespace evrelay
