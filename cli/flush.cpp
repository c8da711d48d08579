#include "flush.hpp"

#include "delivery_sink.hpp"
#include "exit_status.hpp"
#include "progress_display.hpp"
#include "signal_watcher.hpp"

#include "core/model/counters.hpp"
#include "core/pipeline/delivery_ledger.hpp"
#include "core/upstream/dry_run_printer.hpp"
#include "core/upstream/sender.hpp"
#include "core/spool/spool_delivery.hpp"
#include "core/spool/spooling_listener.hpp"
#include "core/util/duration.hpp"
#include "core/util/file_lock.hpp"

#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <unistd.h>

namespace evrelay {

void add_flush_command(CLI::App& app, FlushOptions& options) {
    CLI::App* command = app.add_subcommand(
        "flush", "Deliver a spool directory once (closed segments and incoming/), oldest first");
    command->add_option("dir", options.spool_dir, "The spool directory (serve --spool DIR)")
        ->required();
    command->add_option("--lock-timeout", options.lock_timeout,
                        "Wait this long for another flush or a draining serve to finish "
                        "(default 0s: exit 75 at once)");
    command->add_option("--max-age", options.max_age,
                        "Drop (and report) payloads received longer ago than this");
    command->add_flag("--dry-run", options.dry_run,
                      "Print the payloads that would be sent to stdout; send and change nothing");
    command->add_flag("--progress", options.progress,
                      "Draw a progress line on stderr (default: when stderr is a terminal)");
    command->add_flag("--no-progress", options.no_progress, "Never draw the progress line");
    command
        ->add_option("--schema", options.schema,
                     "Event schema of incoming/ array and NDJSON files (default 4)")
        ->check(CLI::Range(1, 1000));
    command->add_option("--tags", options.tags,
                        "X-LaunchDarkly-Tags of incoming/ array and "
                        "NDJSON files");
    command
        ->add_option("--sdk", options.sdk,
                     "SDK kind of incoming/ array and NDJSON files: server, mobile, js")
        ->check(CLI::IsMember({"server", "mobile", "js"}));
    command
        ->add_option("--payload-ids", options.payload_ids,
                     "preserve (default): send each spool line as it is, with its payload ID; "
                     "new: send the lines of one destination together, under new payload IDs "
                     "recorded before sending")
        ->check(CLI::IsMember({"new", "preserve"}));
    command
        ->add_option("--batch-size", options.batch_size,
                     "Events per payload for incoming/ array and NDJSON files and for "
                     "--payload-ids new (default 1000)")
        ->check(CLI::Range(1, 1'000'000));
    command->add_option("--batch-bytes", options.batch_bytes,
                        "Uncompressed bytes per payload for --payload-ids new (default 4MiB)");
    command->add_option(
        "--shutdown-timeout", options.shutdown_timeout,
        "On SIGINT/SIGTERM, how long to wait for deliveries in flight (default 10s)");
    add_upstream_options(*command, options.upstream);
    add_flag_data_options(*command, options.flag_data);
}

int run_flush(const FlushOptions& options) {
    const auto started = std::chrono::steady_clock::now();
    if (!std::filesystem::is_directory(options.spool_dir)) {
        spdlog::error("flush: {}: {}", options.spool_dir,
                      std::filesystem::exists(options.spool_dir) ? "not a directory"
                                                                 : "no such directory");
        return exit_status::no_input;
    }
    const auto lock_timeout = duration_flag("--lock-timeout", options.lock_timeout);
    const auto shutdown_timeout = duration_flag("--shutdown-timeout", options.shutdown_timeout);
    std::optional<std::chrono::milliseconds> max_age;
    if (options.max_age) {
        max_age = duration_flag("--max-age", *options.max_age);
    }
    const std::size_t batch_bytes = size_flag("--batch-bytes", options.batch_bytes);
    if (batch_bytes == 0) {
        throw CLI::ValidationError("--batch-bytes", "must be greater than 0");
    }
    UpstreamSettings settings = resolve_upstream_settings(options.upstream);
    if (!options.dry_run && settings.environments.environments.empty()) {
        throw ConfigError("no credentials: give --sdk-key, --mobile-key or --env-id, or --config "
                          "with environments named as in the spool");
    }

    auto directory = SpoolDirectory::open(options.spool_dir);
    if (!directory) {
        spdlog::error("flush: {}", directory.error().message);
        return exit_status::temp_fail;
    }

    // SPEC §7: one deliverer at a time, so no payload is sent twice by two processes. A dry run
    // changes nothing and needs no lock.
    std::optional<util::FileLock> delivery_lock;
    if (!options.dry_run) {
        const std::string lock_path = directory->delivery_lock_path().string();
        auto acquired = util::FileLock::acquire(lock_path, lock_timeout);
        if (!acquired) {
            spdlog::error("flush: {}", acquired.error().message);
            return exit_status::temp_fail;
        }
        if (!acquired->has_value()) {
            spdlog::error("flush: another flush, or a serve draining this spool, holds {} (waited "
                          "{}); try again later or give --lock-timeout",
                          lock_path, util::format_duration(lock_timeout));
            return exit_status::temp_fail;
        }
        delivery_lock = std::move(**acquired);
    }
    if (const std::size_t open = directory->open_segment_count(); open > 0) {
        spdlog::info("flush: {} segment(s) are being written by a running serve; they are "
                     "delivered once closed",
                     open);
    }

    EnvironmentTable environments(settings.environments.environments);
    CounterRegistry counters;
    DeliveryLedger ledger(counters);
    SpoolingListener listener(ledger, counters, nullptr);

    DeliverySink delivery_sink =
        make_delivery_sink(options.dry_run, settings, environments, listener, counters);
    PayloadSink* sink = delivery_sink.sink.get();
    Sender* sender = delivery_sink.sender;
    DryRunPrinter* printer = delivery_sink.printer;

    // SPEC §8: schema 1–2 and Unsummarized lines leave as schema 4.
    Summarisation summarisation(
        options.flag_data, settings.config.base_uri.value_or(""), flag_poller_options(settings.sender),
        environments, nullptr,
        [sender]() -> std::optional<std::chrono::system_clock::time_point> {
            return sender != nullptr ? sender->upstream_date() : std::nullopt;
        },
        FlagPolling::on_first_use);
    SpoolDeliveryOptions delivery_options;
    delivery_options.target.env_name = settings.environments.target;
    delivery_options.target.sdk = *parse_sdk_kind(options.sdk);
    delivery_options.target.metadata = PayloadMetadata{options.schema, options.tags};
    delivery_options.max_age = max_age;
    delivery_options.max_events_per_payload = options.batch_size;
    delivery_options.rebatch = options.payload_ids == "new";
    delivery_options.max_bytes_per_payload = batch_bytes;
    delivery_options.dry_run = options.dry_run;
    delivery_options.command = "flush";
    delivery_options.summarise_payload = [&summarisation](Payload& payload) {
        summarisation.summarise_payload(payload);
    };
    // The sender reports the outcomes of the requests that ended together before it starts
    // another: their progress records go in one write.
    delivery_options.batch_progress = sender != nullptr;
    SpoolDelivery delivery(*directory, *sink, delivery_options, [](const InputProblem& problem) {
        spdlog::warn("flush: {}:{}: (byte {}) {}; kept in bad/", problem.file, problem.line,
                     problem.offset, problem.message);
    });
    listener.set_delivery(&delivery);

    std::atomic<bool> interrupted{false};
    SignalWatcher signals({SIGINT, SIGTERM}, [&](int signal) {
        spdlog::info("flush: {} received; stopping after the payloads in flight",
                     signal == SIGINT ? "SIGINT" : "SIGTERM");
        interrupted.store(true);
        delivery.request_stop(shutdown_timeout);
    });

    SpoolDeliveryStats stats;
    {
        const bool progress =
            !options.no_progress && (options.progress || isatty(STDERR_FILENO) == 1);
        std::optional<ProgressDisplay> display;
        if (progress) {
            display.emplace([&stats, started] {
                ProgressSnapshot snapshot;
                snapshot.bytes_read = stats.bytes_read.load();
                snapshot.bytes_total = stats.bytes_total.load();
                snapshot.events = stats.events_read.load();
                snapshot.events_sent = stats.events_delivered.load();
                snapshot.elapsed = std::chrono::steady_clock::now() - started;
                return snapshot;
            });
        }
        delivery.run(stats);
        if (sender != nullptr) {
            // What is still in flight after a signal's grace ends as "shutdown": its lines stay
            // in the spool, recorded as not done.
            sender->stop();
        }
    }
    listener.set_delivery(nullptr);

    std::fflush(stdout);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    if (printer != nullptr) {
        std::fprintf(stderr,
                     "flush (dry run): %llu payloads (%llu events) would be sent, %llu older than "
                     "--max-age, %llu malformed, %s\n",
                     static_cast<unsigned long long>(stats.payloads_read.load() -
                                                     stats.payloads_expired.load() -
                                                     stats.payloads_duplicate.load()),
                     static_cast<unsigned long long>(stats.events_read.load() -
                                                     stats.events_expired.load() -
                                                     stats.events_duplicate.load()),
                     static_cast<unsigned long long>(stats.payloads_expired.load()),
                     static_cast<unsigned long long>(stats.malformed.load()),
                     format_elapsed(elapsed).c_str());
        return stats.malformed.load() > 0 ? exit_status::data_error : exit_status::ok;
    }
    const std::uint64_t remaining = stats.payloads_read.load() - stats.payloads_delivered.load() -
                                    stats.payloads_expired.load() - stats.payloads_duplicate.load();
    std::fprintf(stderr,
                 "flush: %llu payloads (%llu events) delivered, %llu kept for later, %llu "
                 "expired (%llu events), %llu malformed, %llu segments removed, %s\n",
                 static_cast<unsigned long long>(stats.payloads_delivered.load()),
                 static_cast<unsigned long long>(stats.events_delivered.load()),
                 static_cast<unsigned long long>(remaining),
                 static_cast<unsigned long long>(stats.payloads_expired.load()),
                 static_cast<unsigned long long>(stats.events_expired.load()),
                 static_cast<unsigned long long>(stats.malformed.load()),
                 static_cast<unsigned long long>(stats.segments_removed.load()),
                 format_elapsed(elapsed).c_str());
    if (stats.payloads_expired.load() > 0) {
        spdlog::warn("flush: dropped {} event(s) older than --max-age {}",
                     stats.events_expired.load(), util::format_duration(*max_age));
    }
    if (stats.payloads_duplicate.load() > 0) {
        spdlog::info("flush: {} line(s) ({} events) not sent: an earlier line of their segment "
                     "has the same payload ID (an SDK sent that post twice)",
                     stats.payloads_duplicate.load(), stats.events_duplicate.load());
    }
    if (stats.events_too_large.load() > 0) {
        spdlog::warn("flush: dropped {} single event(s) the upstream refused as too large (413)",
                     stats.events_too_large.load());
    }

    // One decision at the end (STYLE §4), most actionable first, as replay does.
    if (auto rejection = delivery.first_rejection()) {
        spdlog::error("flush: {}; those payloads stay in the spool: fix the credential and flush "
                      "again",
                      *rejection);
        return exit_status::config;
    }
    if (remaining > 0 || stats.upstream_unavailable.load() || stats.io_failed.load() ||
        interrupted.load()) {
        if (stats.upstream_unavailable.load()) {
            spdlog::warn("flush: the upstream is unavailable; what is left stays in {} for the "
                         "next run",
                         options.spool_dir);
        }
        return exit_status::temp_fail;
    }
    if (stats.malformed.load() > 0 || stats.events_too_large.load() > 0) {
        return exit_status::data_error;
    }
    return exit_status::ok;
}

} // namespace evrelay
