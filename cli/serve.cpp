#include "serve.hpp"

#include "exit_status.hpp"
#include "signal_watcher.hpp"

#include "core/config/ignored_settings.hpp"
#include "core/config/settings_precedence.hpp"
#include "core/inbound/capture_writer.hpp"
#include "core/inbound/inbound_handler.hpp"
#include "core/inbound/status_report.hpp"
#include "core/model/counters.hpp"
#include "core/pipeline/delivery_ledger.hpp"
#include "core/pipeline/dispatcher.hpp"
#include "core/pipeline/upstream_state.hpp"
#include "core/server/http_server.hpp"
#include "core/spool/spool_drainer.hpp"
#include "core/spool/spool_writer.hpp"
#include "core/spool/spooling_listener.hpp"
#include "core/upstream/sender.hpp"
#include "core/util/byte_size.hpp"
#include "core/util/duration.hpp"
#include "core/util/url_mask.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <memory>

namespace evrelay {

namespace {

constexpr const char* k_default_serve_max_pending = "256MiB";

std::string_view signal_name(int signal) {
    switch (signal) {
    case SIGTERM:
        return "SIGTERM";
    case SIGINT:
        return "SIGINT";
    case SIGHUP:
        return "SIGHUP";
    case SIGUSR1:
        return "SIGUSR1";
    default:
        return "signal";
    }
}

// The flags of serve that Relay's configuration can also give, as values; throws
// CLI::ValidationError for one that does not parse.
ServeFlags serve_flags(const ServeOptions& options) {
    ServeFlags flags;
    flags.port = options.port;
    if (options.flush_interval) {
        flags.flush_interval = duration_flag("--flush-interval", *options.flush_interval);
    }
    if (options.batch_size_given) {
        flags.batch_size = options.batch.batch_size;
    }
    flags.no_forward = options.no_forward;
    return flags;
}

} // namespace

void add_serve_command(CLI::App& app, ServeOptions& options) {
    CLI::App* command = app.add_subcommand(
        "serve", "Accept SDK event posts (as the Relay Proxy does), batch them and forward them");
    command->add_option("--bind", options.bind, "Address to listen on (default 0.0.0.0)");
    command
        ->add_option("--port", options.port,
                     "Port to listen on (default 8030, or [Main] port / PORT); 0 = any free port")
        ->check(CLI::Range(0, 65535));
    command->add_option("--flush-interval", options.flush_interval,
                        "Send queued events this often (default 5s, or [Events] flushInterval / "
                        "EVENTS_FLUSH_INTERVAL)");
    command->add_option("--max-body", options.max_body,
                        "Largest request body, as sent and decompressed (default 10MiB)");
    command->add_flag("--no-forward", options.no_forward,
                      "Accept and answer posts but send nothing upstream (sink mode)");
    command->add_option("--capture", options.capture,
                        "Append every accepted post to FILE (evrelay-capture/1), - for stdout");
    command->add_flag("--offline", options.offline,
                      "Relay's offline mode: answer 202 to every post and discard it");
    command->add_option(
        "--shutdown-timeout", options.shutdown_timeout,
        "On SIGTERM/SIGINT, how long to finish requests and deliveries (default 10s)");
    auto* cert =
        command
            ->add_option("--tls-cert", options.tls_cert, "Serve HTTPS with this certificate (PEM)")
            ->check(CLI::ExistingFile);
    auto* key = command->add_option("--tls-key", options.tls_key, "Private key of --tls-cert (PEM)")
                    ->check(CLI::ExistingFile);
    cert->needs(key);
    key->needs(cert);
    command->add_option("--header-timeout", options.header_timeout,
                        "A request's headers must arrive within this (default 30s)");
    command->add_option("--body-timeout", options.body_timeout,
                        "A request's body must arrive within this (default 30s)");
    command->add_option("--idle-timeout", options.idle_timeout,
                        "Close keep-alive connections idle this long (default 60s)");
    command
        ->add_option("--max-clients", options.max_clients,
                     "Inbound connections at once; more are closed at once (default 4096)")
        ->check(CLI::Range(1, 1'000'000));
    command->add_option("--threads", options.threads, "Server threads (default: one per core)")
        ->check(CLI::Range(0, 1024));
    auto* spool = command->add_option(
        "--spool", options.spool,
        "Spool directory: payloads that cannot be delivered, and what is left at shutdown, are "
        "kept there for `evrelay flush` (with --no-forward: every post)");
    command
        ->add_flag("--durable", options.durable,
                   "Append every post to the spool and fsync before answering 202 (needs --spool)")
        ->needs(spool);
    command->add_option("--spool-segment-bytes", options.spool_segment_bytes,
                        "Close a spool segment at this size (default 64MiB)");
    command->add_option("--spool-segment-age", options.spool_segment_age,
                        "Close a spool segment at this age (default 1m)");
    add_upstream_options(*command, options.upstream);
    add_batch_options(*command, options.batch, k_default_serve_max_pending);
    // [Events] capacity sets the batch size only when the flag does not.
    command->get_option("--batch-size")->each([&options](const std::string&) {
        options.batch_size_given = true;
    });
}

int run_serve(const ServeOptions& options) {
    UpstreamSettings settings = resolve_upstream_settings(options.upstream);
    warn_about_ignored_settings(settings.config);

    // SPEC §9: flags > environment variables > config file > defaults.
    const auto serve_config = resolve_serve_config(serve_flags(options), settings.config);
    if (!serve_config) {
        if (serve_config.error().kind == ErrorKind::invalid_input) {
            throw CLI::ValidationError(serve_config.error().message);
        }
        throw ConfigError(serve_config.error().message);
    }
    std::size_t max_pending = 0;
    BatchOptions batch = options.batch;
    batch.batch_size = serve_config->batch_size;
    PublisherOptions publisher_options = resolve_publisher_options(batch, max_pending);
    // An HTTP handler must not wait for room: what does not fit overflows (SPEC §3).
    publisher_options.wait_for_room = false;
    const std::chrono::milliseconds flush_interval = serve_config->flush_interval;
    const int port = serve_config->port;
    const auto shutdown_timeout = duration_flag("--shutdown-timeout", options.shutdown_timeout);
    const std::size_t max_body = size_flag("--max-body", options.max_body);

    const bool no_forward = !serve_config->forward;
    if (serve_config->forward_off_by_config && !options.no_forward) {
        spdlog::info(
            "serve: sendEvents/USE_EVENTS is false; events are accepted but not forwarded");
    }
    if (settings.environments.environments.empty() && !options.offline) {
        throw ConfigError("no environments: give --sdk-key, --mobile-key or --env-id, or --config "
                          "(or LD_ENV_<name> variables)");
    }

    std::unique_ptr<CaptureWriter> capture;
    if (options.capture) {
        auto opened = CaptureWriter::open(*options.capture);
        if (!opened) {
            throw ConfigError(opened.error().message);
        }
        capture = std::move(*opened);
    }

    // SPEC §7: the spool. A directory that cannot be created or written is a configuration
    // error, found before the port opens.
    std::optional<SpoolDirectory> spool_directory;
    // The drainer a closed segment wakes; declared before the writer, which outlives the drainer
    // and may close a segment until it is destroyed. Cleared once the drainer has stopped.
    std::atomic<SpoolDrainer*> drainer_to_wake{nullptr};
    std::unique_ptr<SpoolWriter> spool_writer;
    std::unique_ptr<SpoolDrainer> drainer;
    const bool forwarding = !no_forward && !options.offline;
    if (options.spool) {
        auto opened = SpoolDirectory::open(*options.spool);
        if (!opened) {
            throw ConfigError(opened.error().message);
        }
        spool_directory = std::move(*opened);
        SpoolWriterOptions writer_options;
        writer_options.segment_bytes =
            size_flag("--spool-segment-bytes", options.spool_segment_bytes);
        writer_options.segment_age =
            duration_flag("--spool-segment-age", options.spool_segment_age);
        if (writer_options.segment_bytes == 0 ||
            writer_options.segment_age <= std::chrono::milliseconds::zero()) {
            throw CLI::ValidationError("--spool-segment-bytes/--spool-segment-age",
                                       "must be greater than 0");
        }
        if (options.durable && forwarding) {
            // Durable posts reach the upstream through the spool: a segment is delivered once
            // closed, so close one at least every flush interval — events then arrive as soon
            // as they would from memory.
            writer_options.segment_age = std::min(writer_options.segment_age, flush_interval);
        }
        writer_options.durable = options.durable;
        if (options.durable && forwarding) {
            // serve drains what it wrote itself: keep the lines' index so that it need not
            // parse them again (about 100 bytes a line; 1M lines ≈ 100 MB at most).
            writer_options.max_indexed_lines = 1'000'000;
        }
        writer_options.on_segment_closed = [&drainer_to_wake] {
            if (SpoolDrainer* to_wake = drainer_to_wake.load()) {
                to_wake->wake();
            }
        };
        spool_writer = std::make_unique<SpoolWriter>(*spool_directory, writer_options);
    }

    EnvironmentTable environments(settings.environments.environments);
    CounterRegistry counters;
    MemoryBudget budget(max_pending);
    DeliveryLedger ledger(counters);
    SpoolingListener spooling(ledger, counters, spool_writer.get());
    UpstreamStateTracker upstream_state(spooling);
    Sender sender(settings.sender, environments, upstream_state, counters);
    Dispatcher dispatcher(publisher_options, sender, budget, counters,
                          spool_writer ? &spooling : nullptr);
    if (spool_directory && forwarding) {
        SpoolDeliveryOptions delivery_options;
        delivery_options.target.env_name = settings.environments.target;
        delivery_options.max_events_per_payload = publisher_options.batch_size;
        // A durable serve's spool lines are posts that were never sent: they go upstream in
        // batches, as posts do from memory (each batch recorded before it is sent, so a crash
        // re-sends it under its ID). Lines a non-durable serve spooled were sent and failed:
        // they keep their IDs, in case the upstream got them after all.
        delivery_options.rebatch = options.durable;
        delivery_options.max_bytes_per_payload = publisher_options.batch_bytes;
        delivery_options.command = "serve";
        delivery_options.index_for = [writer =
                                          spool_writer.get()](const std::filesystem::path& path) {
            return writer->index_of(path);
        };
        drainer = std::make_unique<SpoolDrainer>(*spool_directory, sender, spooling,
                                                 delivery_options, flush_interval);
        drainer_to_wake.store(drainer.get());
    }

    InboundHandlerOptions handler_options;
    handler_options.max_body_bytes = max_body;
    handler_options.no_forward = no_forward;
    handler_options.offline = options.offline;
    if (spool_writer && (no_forward || options.durable)) {
        handler_options.spool_posts = spool_writer.get();
    }
    handler_options.flush = [&dispatcher] { dispatcher.flush_all(); };
    handler_options.runtime_status = [&] {
        RuntimeStatus status;
        status.upstream_state = std::string(to_string(upstream_state.state()));
        status.queued_events = dispatcher.queued_events();
        status.in_flight_bytes = sender.in_flight_bytes();
        status.pending_payloads = sender.pending_payloads();
        return status;
    };
    InboundHandler handler(environments, dispatcher, counters, capture.get(), handler_options);

    HttpServerOptions server_options;
    server_options.bind = options.bind;
    server_options.port = static_cast<std::uint16_t>(port);
    server_options.max_body_bytes = max_body;
    server_options.header_timeout = duration_flag("--header-timeout", options.header_timeout);
    server_options.body_timeout = duration_flag("--body-timeout", options.body_timeout);
    server_options.idle_timeout = duration_flag("--idle-timeout", options.idle_timeout);
    server_options.max_connections = options.max_clients;
    server_options.tls_cert_file = options.tls_cert.value_or("");
    server_options.tls_key_file = options.tls_key.value_or("");
    // A durable post holds no server thread while its fsync runs (HttpResponse::later): the
    // default thread count suits --durable as it is.
    server_options.threads = options.threads;
    HttpServer server(server_options, [&handler](HttpRequest&& request) {
        return handler.handle(std::move(request));
    });
    // Durable answers still queued in the writer hold their sessions, which refer to the server:
    // complete them before the server is destroyed, whichever way this function ends.
    struct CompleteSpoolFirst {
        SpoolWriter* writer;
        ~CompleteSpoolFirst() {
            if (writer != nullptr) {
                writer->close();
            }
        }
    } complete_spool_first{handler_options.spool_posts};

    const auto bound = server.listen();
    if (!bound) {
        spdlog::error("serve: {}", bound.error().message);
        return bound.error().kind == ErrorKind::config ? exit_status::config : exit_status::other;
    }
    spdlog::info("serve: listening on {}:{}{}", options.bind, *bound,
                 server_options.tls_cert_file.empty() ? "" : " (TLS)");
    if (spool_directory) {
        spdlog::info("serve: spool {}{}{}", spool_directory->root().string(),
                     options.durable ? " (durable: every post is on disk before its 202)" : "",
                     handler_options.spool_posts != nullptr ? "; every post is stored there"
                                                            : "; for what cannot be delivered");
    }
    spdlog::info("serve: {} environment(s); flush every {}; {}",
                 settings.environments.environments.size(), util::format_duration(flush_interval),
                 options.offline ? "offline (everything discarded)"
                 : no_forward
                     ? "not forwarding (--no-forward)"
                     : "forwarding to " + util::mask_url_credentials(settings.sender.events_uri));

    // SPEC §3: every flush interval, each non-empty queue becomes one payload.
    server.every(flush_interval, [&dispatcher] { dispatcher.flush_all(); });
    if (spool_writer) {
        server.every(std::min<std::chrono::milliseconds>(std::chrono::seconds(1), flush_interval),
                     [&spool_writer] { spool_writer->rotate_if_due(); });
    }

    std::atomic<bool> stopping{false};
    std::chrono::steady_clock::time_point deadline{};
    // Run on a server thread (HttpServer::post), as the flush timer's calls are.
    const auto on_signal = [&](int signal) {
        switch (signal) {
        case SIGUSR1:
            spdlog::info("serve: SIGUSR1 received; flushing");
            dispatcher.flush_all();
            return;
        case SIGHUP: {
            // SPEC §9: a config that fails to parse is rejected and the old one kept.
            auto reloaded = load_upstream_config(upstream_flags(options.upstream));
            if (!reloaded) {
                spdlog::error("serve: SIGHUP: {}; keeping the old configuration",
                              reloaded.error().message);
                return;
            }
            if (reloaded->environments.environments.empty()) {
                spdlog::error("serve: SIGHUP: the new configuration has no environments; "
                              "keeping the old one");
                return;
            }
            warn_about_ignored_settings(reloaded->config);
            const std::size_t count = reloaded->environments.environments.size();
            environments.replace(std::move(reloaded->environments.environments));
            spdlog::info("serve: SIGHUP: configuration reloaded; {} environment(s)", count);
            if (drainer) {
                drainer->wake(); // a new key may let spooled payloads through
            }
            return;
        }
        default:
            if (stopping.exchange(true)) {
                return;
            }
            spdlog::info("serve: {} received; stopping", signal_name(signal));
            deadline = std::chrono::steady_clock::now() + shutdown_timeout;
            // Stop accepting, let sessions answer the requests in hand (their events are then
            // queued), and end run() — all within the shutdown timeout.
            server.shutdown(shutdown_timeout);
            return;
        }
    };
    // Declared after the server: stopped and joined before it is destroyed.
    SignalWatcher signals({SIGTERM, SIGINT, SIGHUP, SIGUSR1}, [&server, &on_signal](int signal) {
        server.post([&on_signal, signal] { on_signal(signal); });
    });

    server.run();

    // STYLE §7: the shutdown sequence. run() returned: no handler runs any more, so no event
    // can arrive after the queues are closed.
    // Close every publisher: their queues become payloads handed to the sender (SPEC §3).
    dispatcher.close_all();
    // Give the sender (and the spool's drainer) what is left of --shutdown-timeout.
    const auto remaining_time = [&] {
        if (!stopping.load()) {
            return shutdown_timeout;
        }
        const auto now = std::chrono::steady_clock::now();
        return deadline > now
                   ? std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now)
                   : std::chrono::milliseconds::zero();
    };
    if (drainer && options.durable) {
        // Durable posts wait in the spool, not in the queues: close the open segment and deliver
        // it with the rest, within the shutdown timeout. What is left stays in the spool.
        spool_writer->close();
        drainer->finish(remaining_time());
    } else if (drainer) {
        // Spooled payloads in flight get the same grace; what is left stays in the spool.
        drainer->stop(remaining_time());
    }
    drainer_to_wake.store(nullptr);
    if (!sender.wait_idle(remaining_time())) {
        spdlog::warn("serve: deliveries still pending after --shutdown-timeout ({}){}",
                     util::format_duration(shutdown_timeout),
                     spool_writer ? "; they go to the spool" : "");
    }
    // What is still pending goes to the spool, or without one is reported to the ledger as
    // dropped (reason shutdown).
    sender.stop();
    if (spool_writer) {
        spool_writer->close();
    }

    const auto totals = counters.totals();
    const auto lost = totals.dropped_by_reason[static_cast<std::size_t>(DropReason::shutdown)];
    if (lost > 0) {
        spdlog::error("serve: {} event(s) lost at shutdown: the upstream did not take them within "
                      "--shutdown-timeout ({})",
                      lost, util::format_duration(shutdown_timeout));
    }
    if (totals.spooled > 0 || (spool_writer && spool_writer->lines_written() > 0)) {
        spdlog::info("serve: {} post(s) or payload(s) written to the spool {}; `evrelay flush {}` "
                     "delivers them",
                     spool_writer->lines_written(), spool_directory->root().string(),
                     spool_directory->root().string());
    }
    spdlog::info("serve: stopped; {} events received, {} forwarded, {} dropped, {} spooled",
                 totals.received, totals.forwarded, totals.dropped, totals.spooled);
    return lost > 0 ? exit_status::temp_fail : exit_status::ok;
}

} // namespace evrelay
