#include "core/upstream/sender.hpp"

#include "core/model/credential.hpp"
#include "core/upstream/ca_bundle.hpp"
#include "core/upstream/compression_worker.hpp"
#include "core/upstream/credential_gate.hpp"
#include "core/upstream/curl_event_loop.hpp"
#include "core/upstream/curl_transfer.hpp"
#include "core/upstream/proxy_settings.hpp"
#include "core/upstream/request_header_cache.hpp"
#include "core/upstream/retry_policy.hpp"
#include "core/upstream/retry_queue.hpp"
#include "core/upstream/sender_job.hpp"
#include "core/upstream/sender_split.hpp"
#include "core/util/duration.hpp"
#include "core/util/log_throttle.hpp"
#include "core/util/url_mask.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <utility>

namespace evrelay {

namespace {

using Clock = std::chrono::steady_clock;

// libcurl's error text may quote a URL (the proxy's, the upstream's): masked like any URL.
std::string describe_status(long status, const char* curl_error) {
    if (status != 0) {
        return std::to_string(status);
    }
    return "connection error (" +
           (curl_error[0] != '\0' ? util::mask_url_credentials(curl_error) : "no detail") + ")";
}

// What to check when the proxy answers 407: never the credentials themselves.
std::string_view proxy_rejection_advice(const OutboundProxy& proxy, const CurlProxy& curl) {
    if (proxy.url.empty()) {
        return "check the credentials in the URL of the proxy variable";
    }
    if (curl.auth == 0) {
        return "no proxy credentials are configured ([Proxy] user and password, or "
               "PROXY_AUTH_USER and PROXY_AUTH_PASSWORD)";
    }
    return "it refused the proxy credentials; check [Proxy] user and password (PROXY_AUTH_USER, "
           "PROXY_AUTH_PASSWORD) or those in the proxy URL";
}

TransferSettings transfer_settings(const SenderOptions& options,
                                   std::atomic<std::int64_t>* upstream_date_ms) {
    TransferSettings settings;
    settings.upstream_date_ms = upstream_date_ms;
    settings.connect_timeout = options.connect_timeout;
    settings.request_timeout = options.request_timeout;
    if (Result<CurlProxy> proxy = curl_proxy_for(options.proxy)) {
        settings.proxy = std::move(*proxy);
        if (!options.proxy.url.empty()) {
            spdlog::info("sender: through the proxy {}{}", describe_proxy(options.proxy),
                         settings.proxy.auth == CURLAUTH_NTLM    ? " (NTLM authentication)"
                         : settings.proxy.auth == CURLAUTH_BASIC ? " (Basic authentication)"
                                                                 : "");
        }
    } else {
        settings.unusable = proxy.error().message;
    }
    if (!options.ca_cert_files.empty()) {
        if (Result<std::string> bundle = ca_bundle_with(options.ca_cert_files)) {
            settings.ca_bundle = std::move(*bundle);
        } else {
            settings.unusable = bundle.error().message;
        }
    }
    if (!settings.unusable.empty()) {
        spdlog::error("sender: {}; no request can be sent", settings.unusable);
    }
    return settings;
}

} // namespace

// Three kinds of thread meet here: submit()'s callers, the compression worker and the curl
// thread, which runs every attempt and calls the listener. They share the queues under one
// mutex; everything else belongs to the curl thread.
struct Sender::Impl {
    Impl(SenderOptions options_in, const EnvironmentTable& environments,
         DeliveryListener& listener_in, CounterRegistry& counters_in)
        : options(std::move(options_in)), listener(listener_in), counters(counters_in),
          policy(options.retries, options.retry_delay), loop(options.max_concurrent_requests),
          transfers(transfer_settings(options, &upstream_date_ms)),
          headers(environments,
                  UpstreamRequestOptions{options.events_uri, options.user_agent, options.gzip}),
          rng(std::random_device{}()) {}

    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    const SenderOptions options;
    // The Date of the upstream's last response (Unix ms; 0 = none yet), written by the curl
    // thread's header callback. Declared before `transfers`, which points at it.
    std::atomic<std::int64_t> upstream_date_ms{0};
    DeliveryListener& listener;
    CounterRegistry& counters;
    const RetryPolicy policy;

    // --- Shared state, guarded by `mutex`. ---
    mutable std::mutex mutex;
    std::condition_variable space_cv; // in-flight bytes went down, or stopping
    std::condition_variable idle_cv;  // pending went down
    bool stopping = false;
    // The curl thread is about to wait (or waits) in epoll_wait with room for another
    // transfer: the next job made ready must wake it. Cleared by the one wake-up, so a burst of
    // submissions costs one eventfd write, not one each; while every transfer slot is busy
    // nobody wakes it (a finishing transfer does).
    bool curl_wants_wakeup = false;
    std::size_t space_waiters = 0; // submit() calls blocked on max_in_flight_bytes
    std::size_t in_flight_bytes = 0;
    std::size_t pending = 0;
    std::deque<JobPtr> ready_queue; // compressed (or not needed): for the curl thread
    std::vector<JobPtr> leftover;   // what the curl thread still held when it stopped

    std::mutex stop_mutex;
    bool stopped = false;

    // --- Curl thread state: touched by that thread only (but loop.wake()), so no lock. ---
    CurlEventLoop loop;
    TransferPool transfers; // after `loop`: the easy handles go before the multi handle
    RequestHeaderCache headers;
    CredentialGate credentials;
    std::deque<JobPtr> waiting; // ready to start, above max_concurrent_requests
    RetryQueue retry_queue;
    std::mt19937_64 rng;
    std::uint64_t no_credential_generation = 0; // of `headers` when no_credential_logged began
    std::set<std::pair<std::string, SdkKind>> no_credential_logged;
    util::LogThrottle retry_warnings{std::chrono::seconds(1)};
    util::LogThrottle drop_warnings{std::chrono::seconds(1)};
    // Every payload meets the same refusing proxy: one error a minute says it all.
    util::LogThrottle proxy_errors{std::chrono::minutes(1)};

    // --- Threads, last: they use everything above. ---
    std::optional<CompressionWorker> compressor; // when gzip is on
    std::thread curl_thread;

    void start();
    void stop();
    void submit(Payload payload);
    void enqueue_locked(JobPtr job);
    void wake_curl_locked();

    void curl_main();
    // Completes the transfers curl says are done, then tells the listener (before any new
    // attempt starts).
    void take_finished();
    void start_attempt(JobPtr job);
    void complete(std::unique_ptr<Transfer> transfer, CURLcode result);
    void on_no_credential(JobPtr job, const Error& error);
    void on_recoverable(JobPtr job, long status, const char* curl_error);
    void on_proxy_rejected(JobPtr job, long status);
    void on_too_large(JobPtr job, long status);
    void on_rejected(JobPtr job, long status, const std::string& credential);

    // Every job ends in one of these two; they call the listener without a lock held.
    void finish_delivered(JobPtr job, long status);
    void finish_undeliverable(JobPtr job, Undeliverable reason, long status);
    void release(std::size_t accounted);
};

void Sender::Impl::start() {
    if (options.gzip) {
        compressor.emplace(options.gzip_level, mutex, [this](JobPtr job) {
            ready_queue.push_back(std::move(job));
            wake_curl_locked();
        });
    }
    curl_thread = std::thread([this] { curl_main(); });
}

void Sender::Impl::submit(Payload payload) {
    auto job = std::make_unique<SenderJob>();
    job->counters = &counters.for_target(payload.env_name, payload.sdk);
    job->accounted = payload.body.size();
    job->payload = std::move(payload);
    {
        std::unique_lock lock(mutex);
        // Always admit when nothing is in flight, so one payload larger than the bound still
        // goes through instead of blocking forever.
        const auto admitted = [&] {
            return stopping || in_flight_bytes == 0 ||
                   in_flight_bytes + job->accounted <= options.max_in_flight_bytes;
        };
        if (!admitted()) {
            ++space_waiters;
            space_cv.wait(lock, admitted);
            --space_waiters;
        }
        if (!stopping) {
            in_flight_bytes += job->accounted;
            ++pending;
            enqueue_locked(std::move(job));
            return;
        }
    }
    job->counters->payloads_failed.fetch_add(1, std::memory_order_relaxed);
    listener.on_undeliverable(std::move(job->payload), Undeliverable::shutdown, 0);
}

void Sender::Impl::enqueue_locked(JobPtr job) {
    if (compressor && job->compressed.empty()) {
        compressor->push_locked(std::move(job));
        return;
    }
    ready_queue.push_back(std::move(job));
    wake_curl_locked();
}

void Sender::Impl::wake_curl_locked() {
    if (curl_wants_wakeup) {
        curl_wants_wakeup = false;
        loop.wake();
    }
}

void Sender::Impl::start_attempt(JobPtr job) {
    const Payload& payload = job->payload;
    Result<std::shared_ptr<const RequestHeaders>> request = headers.lookup(payload);
    if (!request) {
        on_no_credential(std::move(job), request.error());
        return;
    }
    if (!credentials.admits(payload.env_name, payload.sdk, (*request)->credential)) {
        finish_undeliverable(std::move(job), Undeliverable::disabled, 0);
        return;
    }
    Result<std::unique_ptr<Transfer>> taken = transfers.take_idle();
    if (!taken) {
        // Out of memory inside curl: treat like a failed connection so the retry rule applies.
        ++job->attempts;
        on_recoverable(std::move(job), 0, taken.error().message.c_str());
        return;
    }
    std::unique_ptr<Transfer> transfer = std::move(*taken);
    transfer->prepare(std::move(job), std::move(*request), options.gzip);
    if (Result<void> added = loop.add(transfer->easy()); !added) {
        JobPtr failed = transfer->take_job();
        transfers.put_idle(std::move(transfer));
        on_recoverable(std::move(failed), 0, added.error().message.c_str());
        return;
    }
    transfers.put_running(std::move(transfer));
}

void Sender::Impl::complete(std::unique_ptr<Transfer> transfer, CURLcode result) {
    loop.remove(transfer->easy());
    const long status = transfer->status(result);
    JobPtr job = transfer->take_job();
    // Kept for on_rejected(): the description (and its credential) outlives a cache reset.
    const std::shared_ptr<const RequestHeaders> request = transfer->take_request();
    const std::string curl_error(transfer->error());
    transfers.put_idle(std::move(transfer));

    if (result != CURLE_OK && status == 0 && curl_error.empty()) {
        // The error buffer is empty for some failures; the generic text still helps.
        on_recoverable(std::move(job), 0, curl_easy_strerror(result));
        return;
    }
    switch (classify_status(status)) {
    case AttemptOutcome::delivered:
        finish_delivered(std::move(job), status);
        return;
    case AttemptOutcome::recoverable:
        on_recoverable(std::move(job), status, curl_error.c_str());
        return;
    case AttemptOutcome::too_large:
        on_too_large(std::move(job), status);
        return;
    case AttemptOutcome::rejected:
        on_rejected(std::move(job), status, request->credential);
        return;
    case AttemptOutcome::proxy_rejected:
        on_proxy_rejected(std::move(job), status);
        return;
    }
}

void Sender::Impl::on_no_credential(JobPtr job, const Error& error) {
    const Payload& payload = job->payload;
    if (headers.generation() != no_credential_generation) {
        // The environments changed: what was missing may be there now, or missing anew.
        no_credential_logged.clear();
        no_credential_generation = headers.generation();
    }
    if (no_credential_logged.emplace(payload.env_name, payload.sdk).second) {
        spdlog::error("sender: {}; dropping its {} payloads", error.message,
                      to_string(payload.sdk));
    }
    finish_undeliverable(std::move(job), Undeliverable::no_credential, 0);
}

void Sender::Impl::on_recoverable(JobPtr job, long status, const char* curl_error) {
    counters.count_upstream_status(status);
    if (!policy.may_retry(job->attempts)) {
        finish_undeliverable(std::move(job), Undeliverable::retries_exhausted, status);
        return;
    }
    const int retry_number = job->attempts;
    const std::chrono::milliseconds delay = policy.delay_before_retry(retry_number, rng);
    job->counters->retries.fetch_add(1, std::memory_order_relaxed);
    const Clock::time_point now = Clock::now();
    std::uint64_t suppressed = 0;
    if (retry_warnings.allow(suppressed)) {
        spdlog::warn("sender: upstream {} for {}/{}, retry {}/{} in {}{}",
                     describe_status(status, curl_error), job->payload.env_name,
                     to_string(job->payload.sdk), retry_number, policy.retries(),
                     util::format_duration(delay),
                     suppressed != 0 ? fmt::format(" ({} similar messages suppressed)", suppressed)
                                     : std::string());
    }
    retry_queue.push(now + delay, std::move(job));
}

void Sender::Impl::on_too_large(JobPtr job, long status) {
    counters.count_upstream_status(status);
    Payload& payload = job->payload;
    std::optional<PayloadHalves> halves = split_payload(payload);
    if (!halves) {
        std::uint64_t suppressed = 0;
        if (drop_warnings.allow(suppressed)) {
            spdlog::warn("sender: upstream answered 413 to a single {} event of {} bytes for "
                         "{}/{}; dropping it{}",
                         to_string(payload.data), payload.body.size(), payload.env_name,
                         to_string(payload.sdk),
                         suppressed != 0
                             ? fmt::format(" ({} similar messages suppressed)", suppressed)
                             : std::string());
        }
        finish_undeliverable(std::move(job), Undeliverable::too_large, status);
        return;
    }
    job->counters->splits.fetch_add(1, std::memory_order_relaxed);
    spdlog::debug("sender: upstream answered 413 to {} events ({} bytes) for {}/{}; splitting",
                  payload.event_count, payload.body.size(), payload.env_name,
                  to_string(payload.sdk));

    JobPtr first = std::make_unique<SenderJob>();
    first->payload = std::move(halves->first);
    first->counters = job->counters;
    JobPtr second = std::make_unique<SenderJob>();
    second->payload = std::move(halves->second);
    second->counters = job->counters;
    // The in-flight accounting follows the bytes (as the lease does), so the halves together
    // hold what the whole held.
    first->accounted = std::min(first->payload.body.size(), job->accounted);
    second->accounted = job->accounted - first->accounted;

    std::lock_guard lock(mutex);
    ++pending; // one payload became two
    // Even when stopping, the queues are where stop() collects what is left.
    enqueue_locked(std::move(first));
    enqueue_locked(std::move(second));
}

void Sender::Impl::on_rejected(JobPtr job, long status, const std::string& credential) {
    counters.count_upstream_status(status);
    const Payload& payload = job->payload;
    if (credentials.reject(payload.env_name, payload.sdk, credential)) {
        spdlog::error("sender: upstream rejected {} {} of environment {} with status {}; "
                      "{} events are not forwarded until the credential changes",
                      to_string(credential_kind_for(payload.sdk)), mask_credential(credential),
                      payload.env_name, status, to_string(payload.sdk));
    }
    finish_undeliverable(std::move(job), Undeliverable::rejected, status);
}

void Sender::Impl::on_proxy_rejected(JobPtr job, long status) {
    counters.count_upstream_status(status);
    std::uint64_t suppressed = 0;
    if (proxy_errors.allow(suppressed)) {
        spdlog::error("sender: the proxy {} answered {} (Proxy Authentication Required): {}; "
                      "payloads are not retried, since only a configuration change can fix "
                      "this{}",
                      describe_proxy(options.proxy), status,
                      proxy_rejection_advice(options.proxy, transfers.settings().proxy),
                      suppressed != 0 ? fmt::format(" ({} similar messages suppressed)", suppressed)
                                      : std::string());
    }
    finish_undeliverable(std::move(job), Undeliverable::proxy_rejected, status);
}

void Sender::Impl::finish_delivered(JobPtr job, long status) {
    DeliveryCounters& c = *job->counters;
    if (job->payload.data == DataKind::diagnostic) {
        c.diagnostics_forwarded.fetch_add(1, std::memory_order_relaxed);
    } else {
        c.events_forwarded.fetch_add(job->payload.event_count, std::memory_order_relaxed);
    }
    c.payloads_sent.fetch_add(1, std::memory_order_relaxed);
    listener.on_delivered(job->payload, status);
    const std::size_t accounted = job->accounted;
    job.reset(); // gives the payload's lease back before anyone waiting for idle wakes up
    release(accounted);
}

void Sender::Impl::finish_undeliverable(JobPtr job, Undeliverable reason, long status) {
    job->counters->payloads_failed.fetch_add(1, std::memory_order_relaxed);
    const std::size_t accounted = job->accounted;
    listener.on_undeliverable(std::move(job->payload), reason, status);
    job.reset();
    release(accounted);
}

void Sender::Impl::release(std::size_t accounted) {
    bool wake_submitters = false;
    bool idle = false;
    {
        std::lock_guard lock(mutex);
        in_flight_bytes -= std::min(accounted, in_flight_bytes);
        --pending;
        // A blocked submitter is woken once an eighth of the bound is free again rather than at
        // every payload's end: one wake-up then admits a run of payloads instead of each release
        // and submit ping-ponging between the two threads.
        wake_submitters =
            space_waiters != 0 &&
            (in_flight_bytes == 0 ||
             in_flight_bytes <= options.max_in_flight_bytes - options.max_in_flight_bytes / 8);
        idle = pending == 0;
    }
    if (wake_submitters) {
        space_cv.notify_all();
    }
    if (idle) {
        idle_cv.notify_all();
    }
}

void Sender::Impl::take_finished() {
    const bool any = loop.take_finished(
        [this](CURL* easy, CURLcode result) { complete(transfers.take_running(easy), result); });
    if (any) {
        listener.on_outcomes_reported();
    }
}

void Sender::Impl::curl_main() {
    while (true) {
        {
            std::lock_guard lock(mutex);
            if (stopping) {
                break;
            }
            for (JobPtr& job : ready_queue) {
                waiting.push_back(std::move(job));
            }
            ready_queue.clear();
        }
        const Clock::time_point now = Clock::now();
        while (!retry_queue.empty() && retry_queue.next_due() <= now) {
            waiting.push_back(retry_queue.pop());
        }
        // The sender's own limit, rather than curl's pending queue, bounds concurrency, so that a
        // request's timeout never runs while it waits for a connection.
        while (transfers.running() < options.max_concurrent_requests && !waiting.empty()) {
            JobPtr job = std::move(waiting.front());
            waiting.pop_front();
            start_attempt(std::move(job));
        }

        const bool room = transfers.running() < options.max_concurrent_requests;
        std::chrono::milliseconds timeout(1000);
        if (!waiting.empty() && room) {
            timeout = std::chrono::milliseconds(0);
        } else if (!retry_queue.empty()) {
            const auto until_due =
                std::chrono::ceil<std::chrono::milliseconds>(retry_queue.next_due() - Clock::now());
            timeout = std::clamp(until_due, std::chrono::milliseconds(0), timeout);
        }
        timeout = loop.timeout_within(timeout);
        if (timeout.count() != 0) {
            std::lock_guard lock(mutex);
            if (!ready_queue.empty() && room) {
                timeout = std::chrono::milliseconds(0); // arrived meanwhile: no need to wait
            } else {
                // Asked for under the lock that submitters queue under, so none is missed: a
                // job queued after this point wakes the wait (the eventfd keeps a wake-up that
                // comes before the wait starts).
                curl_wants_wakeup = room;
            }
        }
        loop.wait(timeout);
        take_finished();
    }

    // Stopping: take every job back from curl and hand it to stop().
    std::vector<JobPtr> remaining;
    for (std::unique_ptr<Transfer>& transfer : transfers.take_all_running()) {
        loop.remove(transfer->easy());
        remaining.push_back(transfer->take_job());
        transfers.put_idle(std::move(transfer));
    }
    for (JobPtr& job : waiting) {
        remaining.push_back(std::move(job));
    }
    waiting.clear();
    while (!retry_queue.empty()) {
        remaining.push_back(retry_queue.pop());
    }
    std::lock_guard lock(mutex);
    for (JobPtr& job : remaining) {
        leftover.push_back(std::move(job));
    }
}

void Sender::Impl::stop() {
    std::lock_guard stop_lock(stop_mutex);
    if (stopped) {
        return;
    }
    stopped = true;
    {
        std::lock_guard lock(mutex);
        stopping = true;
    }
    space_cv.notify_all();
    loop.wake();
    if (compressor) {
        compressor->stop();
    }
    if (curl_thread.joinable()) {
        curl_thread.join();
    }
    // Every thread is gone: what is left in the queues is reported here, on stop()'s thread.
    std::vector<JobPtr> remaining;
    {
        std::lock_guard lock(mutex);
        if (compressor) {
            for (JobPtr& job : compressor->take_queued_locked()) {
                remaining.push_back(std::move(job));
            }
        }
        for (JobPtr& job : ready_queue) {
            remaining.push_back(std::move(job));
        }
        ready_queue.clear();
        for (JobPtr& job : leftover) {
            remaining.push_back(std::move(job));
        }
        leftover.clear();
    }
    for (JobPtr& job : remaining) {
        finish_undeliverable(std::move(job), Undeliverable::shutdown, 0);
    }
}

Sender::Sender(SenderOptions options, const EnvironmentTable& environments,
               DeliveryListener& listener, CounterRegistry& counters)
    : m_impl(std::make_unique<Impl>(std::move(options), environments, listener, counters)) {
    m_impl->start();
}

Sender::~Sender() {
    stop();
}

void Sender::submit(Payload payload) {
    m_impl->submit(std::move(payload));
}

bool Sender::wait_idle(std::chrono::milliseconds timeout) {
    std::unique_lock lock(m_impl->mutex);
    return m_impl->idle_cv.wait_for(lock, timeout, [&] { return m_impl->pending == 0; });
}

void Sender::stop() {
    m_impl->stop();
}

std::optional<std::chrono::system_clock::time_point> Sender::upstream_date() const {
    const std::int64_t ms = m_impl->upstream_date_ms.load(std::memory_order_relaxed);
    if (ms == 0) {
        return std::nullopt;
    }
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

std::size_t Sender::in_flight_bytes() const {
    std::lock_guard lock(m_impl->mutex);
    return m_impl->in_flight_bytes;
}

std::size_t Sender::pending_payloads() const {
    std::lock_guard lock(m_impl->mutex);
    return m_impl->pending;
}

} // namespace evrelay
