#include "replay.hpp"

#include "delivery_sink.hpp"
#include "exit_status.hpp"
#include "progress_display.hpp"
#include "signal_watcher.hpp"

#include "core/model/counters.hpp"
#include "core/pipeline/delivery_ledger.hpp"
#include "core/pipeline/dispatcher.hpp"
#include "core/upstream/dry_run_printer.hpp"
#include "core/replay/progress_line.hpp"
#include "core/replay/replay_job.hpp"
#include "core/upstream/sender.hpp"
#include "core/util/duration.hpp"
#include "core/util/line_reader.hpp"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>
#include <unistd.h>

namespace evrelay {

namespace {

constexpr const char* k_default_replay_max_pending = "64MiB";

} // namespace

void add_replay_command(CLI::App& app, ReplayOptions& options) {
    CLI::App* command = app.add_subcommand(
        "replay", "Send captured events (capture files, JSON arrays, NDJSON; .gz ok) upstream");
    command->add_option("files", options.inputs, "Input files; none or - reads stdin");
    command->add_option("--format", options.format, "Input format: auto, capture, array, ndjson")
        ->check(CLI::IsMember({"auto", "capture", "array", "ndjson"}));
    command
        ->add_option("--schema", options.schema,
                     "Event schema version for array/NDJSON input (default 4)")
        ->check(CLI::Range(1, 1000));
    command->add_option("--tags", options.tags, "X-LaunchDarkly-Tags for array/NDJSON input");
    command->add_option("--sdk", options.sdk, "SDK kind for array/NDJSON input: server, mobile, js")
        ->check(CLI::IsMember({"server", "mobile", "js"}));
    command
        ->add_option("--payload-ids", options.payload_ids,
                     "new: re-batch with new payload IDs; preserve: re-send each capture "
                     "envelope whole with its recorded ID")
        ->check(CLI::IsMember({"new", "preserve"}));
    auto* rate = command->add_option("--rate", options.rate, "Send at most N events per second")
                     ->check(CLI::PositiveNumber);
    command
        ->add_option("--speed", options.speed,
                     "Replay at X times the recorded pace of capture timestamps")
        ->check(CLI::PositiveNumber)
        ->excludes(rate);
    command->add_flag(
        "--dry-run", options.dry_run,
        "Print the payloads that would be sent, with headers, to stdout; send nothing");
    command->add_flag("--strict", options.strict, "Stop at the first malformed line or element");
    command->add_flag("--progress", options.progress,
                      "Draw a progress line on stderr (default: when stderr is a terminal)");
    command->add_flag("--no-progress", options.no_progress, "Never draw the progress line");
    command->add_option(
        "--shutdown-timeout", options.shutdown_timeout,
        "On SIGINT/SIGTERM, how long to wait for deliveries in flight (default 10s)");
    add_upstream_options(*command, options.upstream);
    add_flag_data_options(*command, options.flag_data);
    add_batch_options(*command, options.batch, k_default_replay_max_pending);
}

int run_replay(const ReplayOptions& options) {
    const auto started = std::chrono::steady_clock::now();
    // Every input is checked before anything is sent, so a typo does not leave a half replay.
    for (const auto& input : options.inputs) {
        if (input != "-" && !std::filesystem::is_regular_file(input)) {
            spdlog::error("replay: cannot read {}: {}", input,
                          std::filesystem::exists(input) ? "not a regular file" : "no such file");
            return exit_status::no_input;
        }
    }

    UpstreamSettings settings = resolve_upstream_settings(options.upstream);
    std::size_t max_pending = 0;
    PublisherOptions publisher_options = resolve_publisher_options(options.batch, max_pending);
    // A replay source can wait, so it does instead of dropping (SPEC §3 overflow is for serve).
    publisher_options.wait_for_room = true;
    const auto shutdown_timeout = duration_flag("--shutdown-timeout", options.shutdown_timeout);
    if (!options.dry_run && settings.environments.environments.empty()) {
        throw ConfigError("no credentials: give --sdk-key, --mobile-key or --env-id, or --config "
                          "with environments named as in the capture");
    }

    EnvironmentTable environments(settings.environments.environments);
    CounterRegistry counters;
    MemoryBudget budget(max_pending);
    DeliveryLedger ledger(counters);

    DeliverySink delivery_sink =
        make_delivery_sink(options.dry_run, settings, environments, ledger, counters);
    PayloadSink* sink = delivery_sink.sink.get();
    Sender* sender = delivery_sink.sender;
    DryRunPrinter* printer = delivery_sink.printer;

    Dispatcher dispatcher(publisher_options, *sink, budget, counters);
    // SPEC §8: schema 1–2 and Unsummarized items leave as schema 4.
    Summarisation summarisation(
        options.flag_data, settings.config.base_uri.value_or(""), flag_poller_options(settings.sender),
        environments, &dispatcher,
        [sender]() -> std::optional<std::chrono::system_clock::time_point> {
            return sender != nullptr ? sender->upstream_date() : std::nullopt;
        },
        FlagPolling::on_first_use);

    ReplayJobOptions job_options;
    job_options.inputs = options.inputs;
    if (options.format != "auto") {
        job_options.format = parse_input_format(options.format);
    }
    job_options.target.env_name = settings.environments.target;
    job_options.target.sdk = *parse_sdk_kind(options.sdk);
    job_options.target.metadata = PayloadMetadata{options.schema, options.tags};
    job_options.preserve_payload_ids = options.payload_ids == "preserve";
    job_options.strict = options.strict;
    job_options.rate = options.rate;
    job_options.speed = options.speed;
    job_options.max_events_per_item = publisher_options.batch_size;
    job_options.summarise = [&summarisation](const std::string& env_name, SdkKind sdk,
                                             const PayloadMetadata& metadata,
                                             const std::vector<std::string_view>& events) {
        summarisation.hub().publish(env_name, sdk, metadata, events);
    };
    job_options.summarise_payload = [&summarisation](Payload& payload) {
        summarisation.summarise_payload(payload);
    };

    ReplayJob job(job_options, dispatcher, [](const InputProblem& problem) {
        spdlog::warn("replay: {}:{}: (byte {}) {}; skipped", problem.file, problem.line,
                     problem.offset, problem.message);
    });

    // SIGINT/SIGTERM: stop reading, then deliver what was read (SPEC §3 shutdown).
    std::atomic<bool> interrupted{false};
    SignalWatcher signals({SIGINT, SIGTERM}, [&](int signal) {
        spdlog::info("replay: {} received; stopping after the events read so far",
                     signal == SIGINT ? "SIGINT" : "SIGTERM");
        interrupted.store(true);
        job.request_stop();
    });

    ReplayReadStats stats;
    Result<void> read_result;
    {
        const bool progress =
            !options.no_progress && (options.progress || isatty(STDERR_FILENO) == 1);
        std::optional<ProgressDisplay> display;
        if (progress) {
            const auto started_at = std::chrono::steady_clock::now();
            display.emplace([&stats, &counters, started_at] {
                ProgressSnapshot snapshot;
                snapshot.bytes_read = stats.bytes_read.load();
                snapshot.bytes_total = stats.bytes_total.load();
                snapshot.events = stats.events_read.load();
                snapshot.events_sent = counters.totals().forwarded;
                snapshot.elapsed = std::chrono::steady_clock::now() - started_at;
                return snapshot;
            });
        }
        read_result = job.run(stats);
        summarisation.flush_summaries();
        dispatcher.close_all();
        if (sender != nullptr) {
            // At the natural end every payload gets all its attempts; after a signal the wait
            // is bounded by --shutdown-timeout, and what is left is reported as lost.
            if (interrupted.load()) {
                sender->wait_idle(shutdown_timeout);
            } else {
                while (!sender->wait_idle(std::chrono::milliseconds(200)) && !interrupted.load()) {
                }
                if (interrupted.load()) {
                    sender->wait_idle(shutdown_timeout);
                }
            }
            sender->stop();
        }
    }
    if (!read_result) {
        spdlog::error("replay: {}", read_result.error().message);
    }

    // The dry-run payloads (stdout) come before the summary (stderr) on a shared terminal.
    std::fflush(stdout);
    const auto totals = counters.totals();
    const auto elapsed = std::chrono::steady_clock::now() - started;
    if (printer != nullptr) {
        std::fprintf(
            stderr,
            "replay (dry run): %llu events read, %llu payloads printed, %llu malformed, %s\n",
            static_cast<unsigned long long>(stats.events_read.load()),
            static_cast<unsigned long long>(printer->payloads()),
            static_cast<unsigned long long>(stats.malformed.load()),
            format_elapsed(elapsed).c_str());
    } else {
        std::fprintf(stderr,
                     "replay: %llu events read, %llu sent, %llu dropped, %llu malformed, %llu "
                     "payloads, %llu retries, %s\n",
                     static_cast<unsigned long long>(stats.events_read.load()),
                     static_cast<unsigned long long>(totals.forwarded),
                     static_cast<unsigned long long>(totals.dropped),
                     static_cast<unsigned long long>(stats.malformed.load()),
                     static_cast<unsigned long long>(totals.payloads),
                     static_cast<unsigned long long>(totals.retries),
                     format_elapsed(elapsed).c_str());
    }

    // One decision at the end (STYLE §4), most actionable first.
    if (ledger.credential_rejected()) {
        spdlog::error("replay: {}; fix the credential and replay again",
                      ledger.first_rejection().value_or("upstream rejected the credential"));
        return exit_status::config;
    }
    if (!read_result) {
        return read_result.error().kind == ErrorKind::io ? exit_status::no_input
                                                         : exit_status::data_error;
    }
    const auto too_large =
        totals.dropped_by_reason[static_cast<std::size_t>(DropReason::too_large)];
    if (totals.dropped > too_large) {
        return exit_status::temp_fail;
    }
    // A single event the upstream refuses as too large will never be taken: bad input data.
    if (stats.malformed.load() > 0 || too_large > 0) {
        return exit_status::data_error;
    }
    return exit_status::ok;
}

} // namespace evrelay
