#include "core/inbound/inbound_handler.hpp"

#include "core/inbound/cors.hpp"
#include "core/inbound/deadline_responder.hpp"
#include "core/inbound/metrics_text.hpp"
#include "core/json/event_splitter.hpp"
#include "core/json/json_validator.hpp"
#include "core/model/credential.hpp"
#include "core/model/metadata.hpp"
#include "core/util/ascii.hpp"
#include "core/util/base64.hpp"
#include "core/util/duration.hpp"
#include "core/util/gzip.hpp"
#include "core/util/json_writer.hpp"
#include "core/util/log_throttle.hpp"
#include "core/util/uuid.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

namespace evrelay {

namespace {

constexpr std::string_view k_json = "application/json";

// The splitter keeps simdjson's parsers between calls and is not thread-safe: one per thread.
EventSplitter& thread_splitter() {
    thread_local EventSplitter splitter;
    return splitter;
}

std::string json_message(std::string_view message) {
    std::string out = "{\"message\":";
    util::append_json_string(out, message);
    out += '}';
    return out;
}

HttpResponse service_unavailable(const std::string& message) {
    HttpResponse response;
    response.status = 503;
    response.headers.emplace_back("Content-Type", k_json);
    response.headers.emplace_back("Retry-After", "1");
    response.body = json_message(message);
    return response;
}

// The answer to a spooled post: `ok` once appended, else 503 (the SDK retries).
HttpResponse spool_answer(const Result<void>& appended, HttpResponse ok) {
    if (!appended) {
        // The writer logs the cause once; every refused post is visible at debug level.
        spdlog::debug("serve: answered 503: {}", appended.error().message);
        return service_unavailable("the events could not be stored (spool: " +
                                   appended.error().message + "); retry later");
    }
    return ok;
}

// Counted once on disk, whoever answered (a post answered 503 by --durable-timeout is still
// stored, and delivered).
void count_stored(DeliveryCounters& counters, std::size_t events) {
    counters.events_received.fetch_add(events, std::memory_order_relaxed);
    counters.events_spooled.fetch_add(events, std::memory_order_relaxed);
}

// --durable-timeout passed before the post's fsync returned.
HttpResponse late_answer(std::chrono::milliseconds timeout) {
    static util::LogThrottle throttle(std::chrono::seconds(10));
    std::uint64_t suppressed = 0;
    if (throttle.allow(suppressed)) {
        spdlog::warn("serve: a durable post was not on disk within --durable-timeout ({}); "
                     "answered 503 (it is still written; the SDK's retry under the same payload "
                     "ID is answered once it is){}",
                     util::format_duration(timeout),
                     suppressed > 0 ? fmt::format("; {} more since", suppressed) : std::string());
    }
    return service_unavailable("the events were not on disk within --durable-timeout (" +
                               util::format_duration(timeout) + "); retry later");
}

std::string describe(const JsonError& error) {
    return error.message + " (at byte " + std::to_string(error.offset) + ")";
}

} // namespace

std::string environment_label(const Environment& environment) {
    return environment.name.empty() ? environment.env_id : environment.name;
}

std::string_view transparent_gif() {
    static constexpr unsigned char k_gif[] = {
        0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00,
        0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00,
        0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b};
    return {reinterpret_cast<const char*>(k_gif), sizeof k_gif};
}

InboundHandler::InboundHandler(EnvironmentTable& environments, Dispatcher& dispatcher,
                               CounterRegistry& counters, CaptureWriter* capture,
                               InboundHandlerOptions options)
    : m_environments(environments), m_dispatcher(dispatcher), m_counters(counters),
      m_capture(capture), m_options(std::move(options)),
      m_stored_ids(std::make_shared<RecentPayloadIds>(k_remembered_payload_ids)) {
    if (m_options.spool_posts != nullptr && m_options.spool_posts->durable() &&
        m_options.durable_timeout > std::chrono::milliseconds::zero()) {
        m_deadlines = std::make_shared<util::DeadlineTimer>();
    }
}

void InboundHandler::stop_deadlines() {
    m_deadlines.reset(); // the last owner: its destructor joins the thread
}

std::map<int, std::uint64_t> InboundHandler::rejected_posts() const {
    std::map<int, std::uint64_t> result;
    for (std::size_t i = 0; i < m_rejected.size(); ++i) {
        if (const auto count = m_rejected[i].load(std::memory_order_relaxed); count != 0) {
            result[static_cast<int>(400 + i)] = count;
        }
    }
    return result;
}

HttpResponse InboundHandler::reject(int status, std::string_view message) {
    if (status >= 400 && status < 500) {
        m_rejected[static_cast<std::size_t>(status - 400)].fetch_add(1, std::memory_order_relaxed);
    }
    spdlog::debug("serve: answered {}: {}", status, message);
    HttpResponse response;
    response.status = status;
    response.headers.emplace_back("Content-Type", k_json);
    response.body = json_message(message);
    return response;
}

HttpResponse InboundHandler::accepted(const Route& route) const {
    HttpResponse response;
    if (route.kind == RouteKind::beacon) {
        // An <img> request: the browser wants an image, and a 202 with no body would show as a
        // broken image in some browsers' consoles.
        response.status = 200;
        response.headers.emplace_back("Content-Type", "image/gif");
        response.headers.emplace_back("Cache-Control", "no-cache, no-store, must-revalidate");
        response.body = std::string(transparent_gif());
    } else {
        response.status = 202;
    }
    return response;
}

RuntimeStatus InboundHandler::runtime_status() const {
    if (m_options.runtime_status) {
        return m_options.runtime_status();
    }
    RuntimeStatus status;
    status.queued_events = m_dispatcher.queued_events();
    return status;
}

HttpResponse InboundHandler::metrics() {
    HttpResponse response;
    response.headers.emplace_back("Content-Type", k_prometheus_content_type);
    response.body = render_prometheus_metrics(m_counters, runtime_status(), rejected_posts(),
                                              m_options.metric_prefix);
    return response;
}

HttpResponse InboundHandler::handle_metrics_only(HttpRequest&& request) {
    if (target_path(request.target) != "/metrics") {
        return reject(404, "no such endpoint: " + std::string(target_path(request.target)) +
                               " (this port serves /metrics only)");
    }
    if (request.method != "GET") {
        HttpResponse response =
            reject(405, "method " + request.method + " not allowed here; use GET");
        response.headers.emplace_back("Allow", "GET");
        return response;
    }
    return metrics();
}

HttpResponse InboundHandler::handle(HttpRequest&& request) {
    const RouteMatch match = match_route(request.method, request.target);
    if (match.outcome == RouteOutcome::not_found) {
        return reject(404, "no such endpoint: " + std::string(target_path(request.target)));
    }
    if (match.outcome == RouteOutcome::method_not_allowed) {
        HttpResponse response =
            reject(405, "method " + request.method + " not allowed here; use " + match.allow);
        response.headers.emplace_back("Allow", match.allow);
        return response;
    }
    const Route& route = match.route;
    switch (route.kind) {
    case RouteKind::status: {
        HttpResponse response;
        response.headers.emplace_back("Content-Type", k_json);
        response.headers.emplace_back("Cache-Control", "no-store");
        response.body =
            render_status_json(m_environments.all(), m_counters, runtime_status(), rejected_posts(),
                               m_options.status, std::chrono::system_clock::now());
        return response;
    }
    case RouteKind::metrics:
        return metrics();
    case RouteKind::admin_flush: {
        // Anyone who can reach the port could otherwise make the relay send many small payloads.
        if (!request.from_loopback) {
            return reject(403, "/admin/flush is only answered on the loopback interface");
        }
        if (m_options.flush) {
            m_options.flush();
        } else {
            m_dispatcher.flush_all();
        }
        spdlog::info("serve: flush requested via /admin/flush");
        HttpResponse response;
        response.status = 202;
        return response;
    }
    case RouteKind::events:
    case RouteKind::beacon:
        break;
    }
    return handle_events(route, request);
}

HttpResponse InboundHandler::handle_events(const Route& route, HttpRequest& request) {
    std::optional<Environment> environment;
    if (route.sdk == SdkKind::js) {
        // js routes: every answer carries CORS headers, or the browser hides it from the SDK.
        environment = m_environments.find_by_credential(CredentialKind::env_id, route.env_id);
        const auto cors =
            cors_headers(request.header("Origin"), environment ? &*environment : nullptr);
        HttpResponse response;
        if (route.preflight) {
            response.status = 200;
        } else if (!environment && !m_options.offline) {
            response = reject(404, "unknown client-side ID " + mask_credential(route.env_id));
        } else if (m_options.offline) {
            response = accepted(route);
        } else {
            response = accept_body(route, *environment, request, std::string());
        }
        response.headers.insert(response.headers.end(), cors.begin(), cors.end());
        return response;
    }

    if (m_options.offline) {
        return accepted(route);
    }
    const std::string_view authorization = strip_api_key_prefix(request.header("Authorization"));
    if (authorization.empty()) {
        return reject(401, "missing Authorization header (the SDK or mobile key)");
    }
    if (authorization.find(' ') != std::string_view::npos) {
        return reject(401, "malformed Authorization header: expected the key itself or "
                           "\"api_key <key>\"");
    }
    const CredentialKind kind = credential_kind_for(route.sdk);
    environment = m_environments.find_by_credential(kind, authorization);
    if (!environment) {
        return reject(401, "unknown " + std::string(to_string(kind)) + " " +
                               mask_credential(authorization));
    }
    return accept_body(route, *environment, request, std::string());
}

HttpResponse InboundHandler::accept_body(const Route& route, const Environment& environment,
                                         HttpRequest& request, std::string body) {
    if (route.kind == RouteKind::beacon) {
        const auto data = query_parameter(request.target, "d");
        if (!data || data->empty()) {
            return reject(400, "image beacon without a d= parameter (base64 JSON array)");
        }
        auto decoded = util::decode_base64(*data);
        if (!decoded) {
            return reject(400, "image beacon d= parameter: " + decoded.error().message);
        }
        body = std::move(*decoded);
    } else {
        body = std::move(request.body);
        request.body.clear();
    }
    if (body.size() > m_options.max_body_bytes) {
        return reject(413, "body of " + std::to_string(body.size()) +
                               " bytes exceeds --max-body (" +
                               std::to_string(m_options.max_body_bytes) + " bytes)");
    }
    const std::string_view encoding = util::trim(request.header("Content-Encoding"));
    if (util::iequals(encoding, "gzip") || util::iequals(encoding, "x-gzip")) {
        auto inflated = util::gunzip(body, m_options.max_body_bytes);
        if (!inflated) {
            if (inflated.error().kind == ErrorKind::too_large) {
                return reject(413, "decompressed body exceeds --max-body (" +
                                       std::to_string(m_options.max_body_bytes) + " bytes)");
            }
            return reject(400, "Content-Encoding: gzip, but the body is not valid gzip: " +
                                   inflated.error().message);
        }
        body = std::move(*inflated);
    } else if (!encoding.empty() && !util::iequals(encoding, "identity")) {
        return reject(400, "unsupported Content-Encoding \"" + std::string(encoding) +
                               "\" (only gzip is accepted)");
    }
    if (util::trim(body).empty()) {
        return reject(400, "body may not be empty");
    }

    PayloadMetadata metadata = metadata_from_headers(request.header("X-LaunchDarkly-Event-Schema"),
                                                     request.header("X-LaunchDarkly-Tags"));
    if (route.kind == RouteKind::beacon) {
        // SPEC §4: the beacon carries no headers of its own; Relay labels its events schema 3.
        metadata.schema_version = 3;
    }
    metadata.unsummarized = request.has_header("X-LaunchDarkly-Unsummarized");
    body.reserve(body.size() + k_json_padding);
    EventSplitter& splitter = thread_splitter();
    const std::string_view json = util::trim(body);

    if (route.data == DataKind::diagnostic) {
        if (json.front() != '{') {
            return reject(400, "diagnostic body must be one JSON object");
        }
        if (const JsonResult<void> valid = splitter.validate_object(body, body.capacity());
            !valid) {
            return reject(400, "malformed diagnostic body: " + describe(valid.error()));
        }
        capture(route, DataKind::diagnostic, environment, request, metadata, json);
        if (m_options.spool_posts != nullptr) {
            return spool_post(route, DataKind::diagnostic, environment, request, metadata, json, 1);
        }
        forward_diagnostic(route, environment, request, std::move(body));
        return accepted(route);
    }

    if (json.front() == '{') {
        // SPEC §4: the Node SDK re-posts a failed diagnostic object to /bulk; forward it as the
        // diagnostic it is instead of refusing it.
        if (const JsonResult<void> valid = splitter.validate_object(body, body.capacity());
            !valid) {
            return reject(400, "malformed analytics body: " + describe(valid.error()));
        }
        if (route.kind == RouteKind::events && splitter.kind_of(json).starts_with("diagnostic")) {
            capture(route, DataKind::diagnostic, environment, request, metadata, json);
            if (m_options.spool_posts != nullptr) {
                return spool_post(route, DataKind::diagnostic, environment, request, metadata, json,
                                  1);
            }
            forward_diagnostic(route, environment, request, std::move(body));
            return accepted(route);
        }
        return reject(400, "analytics body must be a JSON array of event objects, not an object");
    }
    if (json.front() != '[') {
        return reject(400, "analytics body must be a JSON array of event objects");
    }
    std::vector<std::string_view> events;
    if (JsonResult<void> split = splitter.split_array(body, body.capacity(), events); !split) {
        return reject(400, "malformed analytics body: " + describe(split.error()));
    }
    capture(route, DataKind::analytics, environment, request, metadata, json);
    if (m_options.spool_posts != nullptr) {
        return spool_post(route, DataKind::analytics, environment, request, metadata, json,
                          events.size());
    }
    if (m_options.no_forward) {
        m_counters.for_target(environment.name, route.sdk)
            .events_received.fetch_add(events.size(), std::memory_order_relaxed);
    } else if (events.empty()) {
        // Nothing to publish.
    } else if (needs_summarising(metadata) && m_options.summarise) {
        m_options.summarise(environment.name, route.sdk, metadata, events, &splitter.validator());
    } else {
        m_dispatcher.publish(environment.name, route.sdk, metadata, events);
    }
    return accepted(route);
}

void InboundHandler::forward_diagnostic(const Route& route, const Environment& environment,
                                        const HttpRequest& request, std::string body) {
    if (m_options.no_forward) {
        m_counters.for_target(environment.name, route.sdk)
            .events_received.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    // SPEC §2: the upstream sees the SDK's own identity on diagnostics, so its headers pass.
    std::vector<std::pair<std::string, std::string>> passthrough;
    for (const auto& [name, value] : request.headers) {
        if (util::iequals(name, "Authorization") || util::iequals(name, "User-Agent") ||
            util::iequals(name, "Content-Type") ||
            (name.size() > 15 &&
             util::iequals(std::string_view(name).substr(0, 15), "X-LaunchDarkly-"))) {
            passthrough.emplace_back(name, value);
        }
    }
    // Whitespace around the object is not part of it; the body is otherwise sent as received.
    const std::string_view json = util::trim(body);
    if (json.size() != body.size()) {
        body = std::string(json);
    }
    m_dispatcher.forward_diagnostic(environment.name, route.sdk, std::move(body),
                                    std::move(passthrough));
}

CaptureRecord InboundHandler::post_record(const Route& route, DataKind kind,
                                          const Environment& environment,
                                          const HttpRequest& request,
                                          const PayloadMetadata& metadata, std::string_view json) {
    CaptureRecord record;
    record.received = std::chrono::system_clock::now();
    record.env_name = environment_label(environment);
    record.sdk = route.sdk;
    record.kind = kind;
    record.metadata = metadata;
    if (const auto id = util::trim(request.header("X-LaunchDarkly-Payload-ID")); !id.empty()) {
        record.payload_id = std::string(id);
    }
    record.events_json = json;
    return record;
}

HttpResponse InboundHandler::spool_post(const Route& route, DataKind kind,
                                        const Environment& environment, const HttpRequest& request,
                                        const PayloadMetadata& metadata, std::string_view json,
                                        std::size_t events) {
    CaptureRecord record = post_record(route, kind, environment, request, metadata, json);
    // The SDK's payload ID with the environment: the key of a post it may send again.
    std::string stored_key;
    if (kind == DataKind::analytics && record.payload_id) {
        stored_key = record.env_name + '\n' + *record.payload_id;
        switch (m_stored_ids->claim(stored_key)) {
        case RecentPayloadIds::Claim::stored:
            spdlog::debug("serve: post {} to {} is stored already (the SDK sent it again); 202",
                          *record.payload_id, record.env_name);
            return accepted(route);
        case RecentPayloadIds::Claim::storing:
            // Its first copy's fsync has not returned (--durable-timeout may have answered it
            // 503 already): storing this one too would put the post on disk twice, and a drain
            // sending batches could send it under two IDs.
            spdlog::debug("serve: post {} to {} is being stored (the SDK sent it again); "
                          "answered with the first copy's outcome",
                          *record.payload_id, record.env_name);
            return join_stored(route, std::move(stored_key));
        case RecentPayloadIds::Claim::claimed:
            break; // this post stores it; finish() below, once the outcome is known
        }
    }
    if (kind == DataKind::analytics && !record.payload_id) {
        // The SDK's own payload ID when it sent one (post_record keeps it): a post the SDK
        // retries (after a 503, or a lost 202) then reaches the upstream under one ID, which it
        // de-duplicates. Otherwise a new one.
        record.payload_id = util::make_uuid_v4();
    } else if (kind == DataKind::diagnostic) {
        record.payload_id.reset(); // diagnostic payloads carry no payload ID (SPEC §2)
    }
    DeliveryCounters& counters = m_counters.for_target(environment.name, route.sdk);
    if (m_options.spool_posts->durable()) {
        // Answered once the group commit's fdatasync returns, without holding this thread: the
        // line is formatted now (the record's views end with this request), appended when the
        // listener hands over its responder, and the answer goes back from the committer — or
        // from the deadline timer first (--durable-timeout), and then the line is still written.
        return HttpResponse::later(
            [spool = m_options.spool_posts, line = m_options.spool_posts->prepare(record, events),
             ok = accepted(route), counters = &counters, events, stored_ids = m_stored_ids,
             stored_key = std::move(stored_key), deadlines = m_deadlines,
             timeout = m_options.durable_timeout](HttpResponder respond) mutable {
                auto answer = DeadlineResponder::start(std::move(respond), deadlines, timeout,
                                                       [timeout] { return late_answer(timeout); });
                spool->append_async(
                    std::move(line),
                    [answer = std::move(answer), ok = std::move(ok), counters, events,
                     stored_ids = std::move(stored_ids),
                     stored_key = std::move(stored_key)](const Result<void>& appended) mutable {
                        if (appended) {
                            count_stored(*counters, events);
                        }
                        if (!stored_key.empty()) {
                            stored_ids->finish(stored_key, static_cast<bool>(appended));
                        }
                        answer->answer(spool_answer(appended, std::move(ok)));
                    });
            });
    }
    Result<void> appended = m_options.spool_posts->append(record, events);
    if (appended) {
        count_stored(counters, events);
    }
    if (!stored_key.empty()) {
        m_stored_ids->finish(stored_key, static_cast<bool>(appended));
    }
    return spool_answer(appended, accepted(route));
}

HttpResponse InboundHandler::join_stored(const Route& route, std::string stored_key) {
    return HttpResponse::later([stored_ids = m_stored_ids, key = std::move(stored_key),
                                ok = accepted(route), deadlines = m_deadlines,
                                timeout = m_options.durable_timeout](HttpResponder respond) {
        auto answer = DeadlineResponder::start(std::move(respond), deadlines, timeout,
                                               [timeout] { return late_answer(timeout); });
        stored_ids->when_finished(key, [answer = std::move(answer), ok](bool stored) {
            answer->answer(stored ? ok
                                  : service_unavailable("the events could not be stored; retry "
                                                        "later"));
        });
    });
}

void InboundHandler::capture(const Route& route, DataKind kind, const Environment& environment,
                             const HttpRequest& request, const PayloadMetadata& metadata,
                             std::string_view json) {
    if (m_capture == nullptr) {
        return;
    }
    const CaptureRecord record = post_record(route, kind, environment, request, metadata, json);
    // A failed capture write is logged by the writer; the post itself was fine.
    (void)m_capture->write(record);
}

} // namespace evrelay
