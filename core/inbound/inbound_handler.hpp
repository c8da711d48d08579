#pragma once

#include "core/inbound/capture_writer.hpp"
#include "core/inbound/http_exchange.hpp"
#include "core/inbound/inbound_routes.hpp"
#include "core/inbound/recent_payload_ids.hpp"
#include "core/inbound/status_report.hpp"
#include "core/json/json_validator.hpp"
#include "core/model/counters.hpp"
#include "core/model/environment.hpp"
#include "core/pipeline/dispatcher.hpp"
#include "core/spool/spool_writer.hpp"
#include "core/util/deadline_timer.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace evrelay {

struct InboundHandlerOptions {
    // Limit on the decompressed body (the listener enforces the same limit on the wire body).
    std::size_t max_body_bytes = 10u << 20;
    bool no_forward = false;     // accept, answer, capture; publish nothing (SPEC §4 sink mode)
    bool offline = false;        // Relay's offline mode: 202 to every post, everything discarded
    std::function<void()> flush; // POST /admin/flush; may be empty
    // SPEC §7: with a spool and --no-forward or --durable, every accepted post is appended to the
    // spool (one line, the SDK's payload ID or a new one) instead of being published, and
    // answered only once the append returned — 503 when it failed, so the SDK retries. A
    // durable writer's posts are answered later (HttpResponse::later): append_async() completes
    // them once their group is synced, and no server thread waits for the fsync meanwhile. A post
    // whose SDK payload ID (X-LaunchDarkly-Payload-ID) was stored lately — the SDK sends a post
    // again when it did not see the 202 — is answered 202 and not stored again; one whose first
    // copy is still being stored is answered with that copy's outcome.
    SpoolWriter* spool_posts = nullptr;
    // serve --durable-timeout: a durable post not on disk within this is answered 503 (the SDK
    // retries); its line stays queued and is still written. 0: no deadline.
    std::chrono::milliseconds durable_timeout{0};
    std::function<RuntimeStatus()> runtime_status; // GET /status and /metrics; may be empty
    // Schema 1–2 and Unsummarized analytics posts (needs_summarising) go here instead of the
    // dispatcher: the summariser turns them into schema-4 events (SPEC §8). Empty: published as
    // they are (tests of the verbatim path only; serve always sets it). `validated` is the
    // post's validator, whose parts() are `events` (SummaryHub::publish reads them from it).
    std::function<void(const std::string& env_name, SdkKind sdk, const PayloadMetadata& metadata,
                       const std::vector<std::string_view>& events, const JsonValidator* validated)>
        summarise;
    StatusReportOptions status; // GET /status
    std::string metric_prefix;  // GET /metrics: [Prometheus] prefix
};

// The request-handling half of `serve` (SPEC §4): routes a request, authenticates it, decodes
// and validates its body, and hands valid events to the Dispatcher (or the diagnostic
// pass-through), recording the post in the capture when one is set. It never waits on the
// network or disk except for the capture's one write(2) per post and the sink's back-pressure.
// Thread-safe: handle() runs on every listener thread at once (the JSON splitter is per thread).
class InboundHandler {
  public:
    InboundHandler(EnvironmentTable& environments, Dispatcher& dispatcher,
                   CounterRegistry& counters, CaptureWriter* capture,
                   InboundHandlerOptions options);

    HttpResponse handle(HttpRequest&& request);
    // Ends the --durable-timeout timer, waiting for an answer it is giving: call once handle()
    // is no longer called and the spool writer is closed, before the server those answers go to
    // is destroyed. Deferred answers still to come then have no deadline.
    void stop_deadlines();

    // The Prometheus listener ([Prometheus] port, as Relay's): GET /metrics as on the main port;
    // 405 for another method, 404 for any other path.
    HttpResponse handle_metrics_only(HttpRequest&& request);

    // Requests answered with an error status (4xx), by status: evrelay_posts_rejected_total.
    std::map<int, std::uint64_t> rejected_posts() const;

  private:
    HttpResponse handle_events(const Route& route, HttpRequest& request);
    HttpResponse accept_body(const Route& route, const Environment& environment,
                             HttpRequest& request, std::string body);
    void forward_diagnostic(const Route& route, const Environment& environment,
                            const HttpRequest& request, std::string body);
    void capture(const Route& route, DataKind kind, const Environment& environment,
                 const HttpRequest& request, const PayloadMetadata& metadata,
                 std::string_view json);
    HttpResponse reject(int status, std::string_view message);
    // An accepted post as a capture line (SPEC §6), with the SDK's payload ID if it sent one.
    static CaptureRecord post_record(const Route& route, DataKind kind,
                                     const Environment& environment, const HttpRequest& request,
                                     const PayloadMetadata& metadata, std::string_view json);
    // Appends an accepted post to the spool (options.spool_posts); 202 or 503.
    HttpResponse spool_post(const Route& route, DataKind kind, const Environment& environment,
                            const HttpRequest& request, const PayloadMetadata& metadata,
                            std::string_view json, std::size_t events);
    // A post whose first copy (same key) is being stored: answered with that copy's outcome.
    HttpResponse join_stored(const Route& route, std::string stored_key);
    HttpResponse accepted(const Route& route) const;
    RuntimeStatus runtime_status() const;
    HttpResponse metrics();

    EnvironmentTable& m_environments;
    Dispatcher& m_dispatcher;
    CounterRegistry& m_counters;
    CaptureWriter* m_capture;
    InboundHandlerOptions m_options;

    // Indexed by status - 400: every error the handler answers is a 4xx.
    std::array<std::atomic<std::uint64_t>, 100> m_rejected{};
    // spool_posts: the SDK payload IDs of the posts stored lately (shared with the writer's
    // completions, which may run after the handler is gone).
    std::shared_ptr<RecentPayloadIds> m_stored_ids;
    // The deadlines of deferred answers (options.durable_timeout); null without one.
    std::shared_ptr<util::DeadlineTimer> m_deadlines;
};

// How many stored posts' payload IDs a serve with spool_posts remembers, so that an SDK's
// retry of a post already stored is answered 202 without storing it twice (~15 MB).
inline constexpr std::size_t k_remembered_payload_ids = 100'000;

// The environment a capture line and the publisher name: its configured name, or its envId when
// it has none (SPEC §6).
std::string environment_label(const Environment& environment);

// The 43-byte transparent 1x1 GIF the image beacon answers with.
std::string_view transparent_gif();

} // namespace evrelay
