#include "serve.hpp"

#include "exit_status.hpp"
#include "metrics_listener.hpp"
#include "signal_watcher.hpp"

#include "core/config/ignored_settings.hpp"
#include "core/config/serve_reload.hpp"
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

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <memory>
#include <mutex>

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

// Why events dropped during the shutdown were lost, for its log line.
std::string describe_shutdown_drop(DropReason reason, std::chrono::milliseconds shutdown_timeout) {
    switch (reason) {
    case DropReason::retries_exhausted:
        return "refused by the upstream until the last retry";
    case DropReason::shutdown:
        return "still undelivered when --shutdown-timeout (" +
               util::format_duration(shutdown_timeout) + ") ran out";
    case DropReason::queue_full:
        return "over --max-pending";
    case DropReason::rejected:
        return "refused for their credential";
    case DropReason::too_large:
        return "refused as too large (413)";
    case DropReason::count:
        break;
    }
    return std::string(to_string(reason));
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
    flags.offline = options.offline;
    flags.tls_cert = options.tls_cert;
    flags.tls_key = options.tls_key;
    if (options.tls_min_version) {
        flags.tls_min_version =
            *options.tls_min_version == "1.3" ? TlsVersion::tls1_3 : TlsVersion::tls1_2;
    }
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
                      "Relay's offline mode: answer 202 to every post and discard it (also "
                      "[OfflineMode] fileDataSource / FILE_DATA_SOURCE)");
    command->add_option(
        "--shutdown-timeout", options.shutdown_timeout,
        "On SIGTERM/SIGINT, how long to finish requests and deliveries (default 10s)");
    auto* cert =
        command
            ->add_option("--tls-cert", options.tls_cert,
                         "Serve HTTPS with this certificate (PEM); else [Main] tlsCert / TLS_CERT "
                         "when tlsEnabled / TLS_ENABLED")
            ->check(CLI::ExistingFile);
    auto* key = command
                    ->add_option("--tls-key", options.tls_key,
                                 "Private key of --tls-cert (PEM); else [Main] tlsKey / TLS_KEY")
                    ->check(CLI::ExistingFile);
    cert->needs(key);
    key->needs(cert);
    command
        ->add_option("--tls-min-version", options.tls_min_version,
                     "Oldest TLS version accepted: 1.2 (default) or 1.3 ([Main] tlsMinVersion / "
                     "TLS_MIN_VERSION)")
        ->check(CLI::IsMember({"1.2", "1.3"}));
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
    auto* durable =
        command
            ->add_flag("--durable", options.durable,
                       "Append every post to the spool and fsync before answering 202 (needs "
                       "--spool)")
            ->needs(spool);
    command
        ->add_option("--durable-timeout", options.durable_timeout,
                     "Answer 503 to a durable post not on disk within this (the post is still "
                     "written; the SDK's retry is answered once it is); 0 = wait (default 5s)")
        ->needs(durable);
    command
        ->add_option("--payload-ids", options.payload_ids,
                     "How a forwarding --durable serve sends its spooled posts: new (default; "
                     "batch is the same) in batches under new IDs recorded before sending; "
                     "preserve: each post its own request under the SDK's payload ID")
        ->check(CLI::IsMember({"new", "batch", "preserve"}))
        ->needs(durable);
    command->add_option("--spool-segment-bytes", options.spool_segment_bytes,
                        "Close a spool segment at this size (default 64MiB)");
    command->add_option("--spool-segment-age", options.spool_segment_age,
                        "Close a spool segment at this age (default 1m)");
    add_upstream_options(*command, options.upstream);
    add_flag_data_options(*command, options.flag_data);
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

    for (const auto& warning : serve_config->warnings) {
        spdlog::warn("config: {}", warning);
    }
    const bool offline = serve_config->offline;
    const bool no_forward = !serve_config->forward;
    if (serve_config->forward_off_by_config && !options.no_forward) {
        spdlog::info(
            "serve: sendEvents/USE_EVENTS is false; events are accepted but not forwarded");
    }
    if (settings.environments.environments.empty() && !offline) {
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
    const bool forwarding = !no_forward && !offline;
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
            // parse them again (about 300 bytes a line; 1M lines ≈ 300 MB at most).
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
    // SPEC §8: schema 1–2 and Unsummarized posts leave as schema 4. Flag data is polled all along
    // only when something is forwarded.
    Summarisation summarisation(
        options.flag_data, settings.config.base_uri.value_or(""),
        flag_poller_options(settings.sender), environments, &dispatcher,
        [&sender] { return sender.upstream_date(); },
        forwarding ? FlagPolling::continuous : FlagPolling::on_first_use);
    // Every flush, summaries first: a summary leaves with the flush of its queue.
    const auto flush_all = [&summarisation, &dispatcher] {
        summarisation.flush_summaries();
        dispatcher.flush_all();
    };
    if (spool_directory && forwarding) {
        SpoolDeliveryOptions delivery_options;
        delivery_options.target.env_name = settings.environments.target;
        delivery_options.max_events_per_payload = publisher_options.batch_size;
        // A durable serve's spool lines are posts that were never sent: they go upstream in
        // batches, as posts do from memory (each batch recorded before it is sent, so a crash
        // re-sends it under its ID) — or, --payload-ids preserve, each under the SDK's own ID,
        // so that the upstream de-duplicates an SDK retry another instance took. Lines a
        // non-durable serve spooled were sent and failed: they keep their IDs, in case the
        // upstream got them after all.
        delivery_options.rebatch = options.durable && options.payload_ids != "preserve";
        delivery_options.max_bytes_per_payload = publisher_options.batch_bytes;
        delivery_options.command = "serve";
        delivery_options.summarise_payload = [&summarisation](Payload& payload) {
            summarisation.summarise_payload(payload);
        };
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
    handler_options.offline = offline;
    handler_options.status.disconnected_status_time = serve_config->disconnected_status_time;
    handler_options.metric_prefix = serve_config->metric_prefix;
    if (spool_writer && (no_forward || options.durable)) {
        handler_options.spool_posts = spool_writer.get();
    }
    if (options.durable) {
        handler_options.durable_timeout =
            duration_flag("--durable-timeout", options.durable_timeout);
        if (!forwarding && options.payload_ids == "preserve") {
            spdlog::warn("serve: --payload-ids preserve has no effect without forwarding; "
                         "`evrelay flush` sends this spool, each line under its own ID by default");
        }
    }
    handler_options.flush = flush_all;
    handler_options.summarise = [&summarisation](const std::string& env_name, SdkKind sdk,
                                                 const PayloadMetadata& metadata,
                                                 const std::vector<std::string_view>& events,
                                                 const JsonValidator* validated) {
        summarisation.hub().publish(env_name, sdk, metadata, events, validated);
    };
    handler_options.runtime_status = [&] {
        RuntimeStatus status;
        status.upstream_state = std::string(to_string(upstream_state.state()));
        status.upstream_state_since = upstream_state.since();
        status.queued_events = dispatcher.queued_events();
        status.in_flight_bytes = sender.in_flight_bytes();
        status.pending_payloads = sender.pending_payloads();
        std::vector<std::string> env_names;
        for (const Environment& environment : environments.all()) {
            env_names.push_back(environment.name.empty() ? environment.env_id : environment.name);
        }
        status.summarisation = summarisation.status(env_names);
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
    server_options.tls_cert_file = serve_config->tls_cert;
    server_options.tls_key_file = serve_config->tls_key;
    server_options.tls_min_version = serve_config->tls_min_version == TlsVersion::tls1_3
                                         ? TlsMinVersion::tls1_3
                                         : TlsMinVersion::tls1_2;
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
        InboundHandler& handler;
        ~CompleteSpoolFirst() {
            if (writer != nullptr) {
                writer->close();
            }
            handler.stop_deadlines(); // a --durable-timeout answer may be on its way
        }
    } complete_spool_first{handler_options.spool_posts, handler};

    // [Prometheus]: its own port, opened first so that a failure leaves nothing running. Declared
    // after the handler, which it calls.
    std::unique_ptr<MetricsListener> prometheus;
    if (serve_config->prometheus) {
        auto started = MetricsListener::start(options.bind, serve_config->prometheus_port, handler);
        if (!started) {
            spdlog::error("serve: [Prometheus] port: {}", started.error().message);
            return started.error().kind == ErrorKind::config ? exit_status::config
                                                             : exit_status::other;
        }
        prometheus = std::move(*started);
        spdlog::info("serve: Prometheus metrics on {}:{}/metrics", options.bind,
                     prometheus->port());
    }
    const auto bound = server.listen();
    if (!bound) {
        spdlog::error("serve: {}", bound.error().message);
        return bound.error().kind == ErrorKind::config ? exit_status::config : exit_status::other;
    }
    spdlog::info("serve: listening on {}:{}{}", options.bind, *bound,
                 server_options.tls_cert_file.empty()
                     ? ""
                     : fmt::format(" (TLS {}+)", to_string(serve_config->tls_min_version)));
    if (spool_directory) {
        spdlog::info("serve: spool {}{}{}", spool_directory->root().string(),
                     options.durable ? " (durable: every post is on disk before its 202)" : "",
                     handler_options.spool_posts != nullptr ? "; every post is stored there"
                                                            : "; for what cannot be delivered");
    }
    spdlog::info("serve: {} environment(s); flush every {}; {}",
                 settings.environments.environments.size(), util::format_duration(flush_interval),
                 offline ? "offline (everything discarded)"
                 : no_forward
                     ? "not forwarding (--no-forward)"
                     : "forwarding to " + util::mask_url_credentials(settings.sender.events_uri));

    // SPEC §3: every flush interval, each non-empty queue becomes one payload. SIGHUP may
    // change the interval (reload_configuration restarts the wait under way).
    std::atomic<std::chrono::milliseconds::rep> flush_interval_ms{flush_interval.count()};
    const std::function<void()> restart_flush_timer = server.every(
        [&flush_interval_ms] { return std::chrono::milliseconds(flush_interval_ms.load()); },
        flush_all);
    if (spool_writer) {
        server.every(std::min<std::chrono::milliseconds>(std::chrono::seconds(1), flush_interval),
                     [&spool_writer] { spool_writer->rotate_if_due(); });
    }

    // SIGHUP (SPEC §9): the config file and variables read again and applied in place where
    // they can be (serve_reload.hpp); a configuration that cannot be used is rejected whole and
    // the running one kept. One reload at a time: signals may run on any server thread.
    std::mutex reload_mutex;
    UpstreamConfig running_upstream{settings.config, settings.environments,
                                    settings.sender.events_uri, settings.sender.proxy,
                                    settings.sender.ca_cert_files};
    ServeConfig running_serve = *serve_config;
    const auto reload_configuration = [&] {
        std::lock_guard lock(reload_mutex);
        summarisation.reload(); // the --flags file, whatever becomes of the config file
        auto reloaded = load_upstream_config(upstream_flags(options.upstream));
        if (!reloaded) {
            spdlog::error("serve: SIGHUP: {}; keeping the old configuration",
                          reloaded.error().message);
            return;
        }
        if (reloaded->environments.environments.empty() && !offline) {
            spdlog::error("serve: SIGHUP: the new configuration has no environments; "
                          "keeping the old one");
            return;
        }
        auto reloaded_serve = resolve_serve_config(serve_flags(options), reloaded->config);
        if (!reloaded_serve) {
            spdlog::error("serve: SIGHUP: {}; keeping the old configuration",
                          reloaded_serve.error().message);
            return;
        }
        ServeReload reload = plan_serve_reload(running_upstream, running_serve,
                                               std::move(*reloaded), std::move(*reloaded_serve));
        if (reload.route_changed) {
            // First, since it can still fail: a proxy or CA file that cannot be used.
            const UpstreamRoute route{reload.upstream.events_uri, reload.upstream.proxy,
                                      reload.upstream.ca_cert_files};
            if (Result<void> rerouted = sender.reroute(route); !rerouted) {
                spdlog::error("serve: SIGHUP: {}; keeping the old configuration",
                              rerouted.error().message);
                return;
            }
        }
        warn_about_ignored_settings(reload.upstream.config);
        for (const auto& warning : reload.serve.warnings) {
            spdlog::warn("config: {}", warning);
        }
        environments.replace(reload.upstream.environments.environments);
        if (reload.flush_interval_changed) {
            flush_interval_ms.store(reload.serve.flush_interval.count());
            restart_flush_timer(); // from 1h to 5s takes effect now, not in an hour
        }
        if (reload.route_changed || reload.base_uri_changed) {
            summarisation.reroute(reload.upstream.config.base_uri.value_or(""),
                                  UpstreamRoute{reload.upstream.events_uri, reload.upstream.proxy,
                                                reload.upstream.ca_cert_files});
        }
        for (const auto& setting : reload.needs_restart) {
            spdlog::warn("serve: SIGHUP: {} changed; restart evrelay to apply it", setting);
        }
        spdlog::info("serve: SIGHUP: configuration reloaded; {} environment(s); {}",
                     reload.upstream.environments.environments.size(),
                     reload.applied.empty()
                         ? std::string("nothing else changed")
                         : fmt::format("applied: {}", fmt::join(reload.applied, "; ")));
        running_upstream = std::move(reload.upstream);
        running_serve = std::move(reload.serve);
        if (drainer) {
            drainer->wake(); // a new key, URI or proxy may let spooled payloads through
        }
    };

    std::atomic<bool> stopping{false};
    std::chrono::steady_clock::time_point deadline{};
    // Events dropped before the stop began, by reason: what the shutdown loses is the rest.
    CounterRegistry::Totals before_stop;
    // Run on a server thread (HttpServer::post), as the flush timer's calls are.
    const auto on_signal = [&](int signal) {
        switch (signal) {
        case SIGUSR1:
            spdlog::info("serve: SIGUSR1 received; flushing");
            flush_all();
            return;
        case SIGHUP:
            reload_configuration();
            return;
        default:
            if (stopping.exchange(true)) {
                return;
            }
            spdlog::info("serve: {} received; stopping", signal_name(signal));
            deadline = std::chrono::steady_clock::now() + shutdown_timeout;
            before_stop = counters.totals();
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
    if (prometheus) {
        prometheus->stop();
    }
    if (!stopping.load()) {
        before_stop = counters.totals();
    }

    // STYLE §7: the shutdown sequence. run() returned: no handler runs any more, so no event
    // can arrive after the queues are closed.
    // Close every publisher: their queues become payloads handed to the sender (SPEC §3), with
    // the last summaries.
    summarisation.flush_summaries();
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

    // Shutdown honesty: events accepted but neither delivered nor kept in a spool since the stop
    // began (at the last retry, when --shutdown-timeout ran out, or a failed spool write) make
    // the exit status 75, whatever their reason. Drops during the run were logged then.
    const auto totals = counters.totals();
    std::uint64_t lost = 0;
    std::string reasons;
    for (std::size_t reason = 0; reason < totals.dropped_by_reason.size(); ++reason) {
        const std::uint64_t dropped =
            totals.dropped_by_reason[reason] - before_stop.dropped_by_reason[reason];
        if (dropped > 0) {
            lost += dropped;
            reasons += fmt::format(
                "{}{} {}", reasons.empty() ? "" : ", ", dropped,
                describe_shutdown_drop(static_cast<DropReason>(reason), shutdown_timeout));
        }
    }
    if (lost > 0) {
        spdlog::error("serve: {} event(s) lost at shutdown: {}; {}", lost, reasons,
                      spool_writer ? "the spool could not keep them"
                                   : "without --spool nothing keeps them");
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
