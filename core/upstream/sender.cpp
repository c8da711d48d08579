#include "core/upstream/sender.hpp"

#include "core/model/credential.hpp"
#include "core/model/endpoint.hpp"
#include "core/upstream/retry_policy.hpp"
#include "core/upstream/sender_split.hpp"
#include "core/upstream/upstream_request.hpp"
#include "core/util/duration.hpp"
#include "core/util/fd.hpp"
#include "core/util/gzip.hpp"
#include "core/util/log_throttle.hpp"
#include "core/util/uuid.hpp"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <thread>
#include <tuple>
#include <unistd.h>
#include <unordered_map>

namespace evrelay {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view k_payload_id_header = "X-LaunchDarkly-Payload-ID";
// Request descriptions kept by the curl thread (per environment, SDK kind, data kind, metadata).
constexpr std::size_t k_max_cached_headers = 64;

// CURLOPT_UPLOAD_BUFFERSIZE (libcurl allows up to 2 MiB).
constexpr long k_upload_buffer_bytes = 512L * 1024;

// curl_global_init is not thread-safe in every libcurl build; do it once before any handle.
void init_curl_once() {
    static const bool k_initialised = [] {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        return true;
    }();
    (void)k_initialised;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return {};
    }
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::string describe_status(long status, const char* curl_error) {
    if (status != 0) {
        return std::to_string(status);
    }
    return std::string("connection error (") + (curl_error[0] != '\0' ? curl_error : "no detail") +
           ")";
}

} // namespace

// One payload on its way: accepted by submit(), finished by exactly one listener call.
struct SenderJob {
    Payload payload;
    std::string compressed;    // the gzip bytes, made once and reused by every attempt
    std::size_t accounted = 0; // bytes counted in m_in_flight_bytes for this payload
    int attempts = 0;          // attempts started
    DeliveryCounters* counters = nullptr;
};

struct Sender::Impl {
    Impl(SenderOptions options_in, const EnvironmentTable& environments_in,
         DeliveryListener& listener_in, CounterRegistry& counters_in)
        : options(std::move(options_in)), environments(environments_in), listener(listener_in),
          counters(counters_in),
          policy(options.retries, options.retry_delay), request_options{options.events_uri,
                                                                        options.user_agent,
                                                                        options.gzip},
          rng(std::random_device{}()) {}

    ~Impl();
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    using JobPtr = std::unique_ptr<SenderJob>;

    // The URL and header lines of the requests for one (environment, SDK kind, data kind,
    // metadata), rendered once from describe_upstream_request() and shared by every attempt
    // for it until the environments change: only the payload ID differs between them.
    struct RequestHeaders {
        std::string url;
        std::string credential;         // what the attempts authenticate with (for disabling)
        std::vector<std::string> lines; // "Name: value", without the payload ID's
        std::size_t id_position = std::string::npos; // where the payload ID's line goes
    };
    struct CachedHeaders {
        std::string env_name;
        SdkKind sdk;
        DataKind data;
        PayloadMetadata metadata;
        std::shared_ptr<const RequestHeaders> headers;
    };

    // One easy handle with what lives as long as its attempt. Pooled: handles (and the
    // connection state libcurl keeps with them) are reused, and so is the header list's memory.
    struct Transfer {
        CURL* easy = nullptr;
        JobPtr job;
        std::shared_ptr<const RequestHeaders> request; // the header lines the nodes point into
        std::string id_line;                  // "X-LaunchDarkly-Payload-ID: …" of this attempt
        std::vector<curl_slist> header_nodes; // CURLOPT_HTTPHEADER, never freed by curl
        std::array<char, CURL_ERROR_SIZE> error{};
        std::size_t active_index = 0; // position in active_transfers
    };

    struct RetryEntry {
        Clock::time_point due;
        std::uint64_t sequence; // keeps equal due times in submission order
        SenderJob* job;
        bool operator>(const RetryEntry& other) const {
            return std::tie(due, sequence) > std::tie(other.due, other.sequence);
        }
    };

    const SenderOptions options;
    const EnvironmentTable& environments;
    DeliveryListener& listener;
    CounterRegistry& counters;
    const RetryPolicy policy;
    const UpstreamRequestOptions request_options;

    // --- Shared state, guarded by `mutex`. ---
    mutable std::mutex mutex;
    std::condition_variable space_cv;    // in-flight bytes went down, or stopping
    std::condition_variable idle_cv;     // pending went down
    std::condition_variable compress_cv; // work for the compressors, or stopping
    bool stopping = false;
    // The curl thread is about to wait (or waits) in epoll_wait with room for another
    // transfer: the next job made ready must wake it. Cleared by the one wake-up, so a burst of
    // submissions costs one eventfd write, not one each; while every transfer slot is busy
    // nobody wakes it (a finishing transfer does).
    bool curl_wants_wakeup = false;
    std::size_t space_waiters = 0; // submit() calls blocked on max_in_flight_bytes
    std::size_t in_flight_bytes = 0;
    std::size_t pending = 0;
    std::deque<JobPtr> compress_queue;
    std::deque<JobPtr> ready_queue; // compressed (or not needed): for the curl thread
    std::vector<JobPtr> leftover;   // what the curl thread still held when it stopped

    std::mutex stop_mutex;
    bool stopped = false;

    CURLM* multi = nullptr;
    util::Fd epoll;  // the sockets curl asked to watch, and `wakeup`
    util::Fd wakeup; // eventfd: work for the curl thread, or stopping
    std::thread curl_thread;
    std::vector<std::thread> compressors;
    std::string ca_blob; // the default CA bundle plus --ca-cert, when one is given

    // --- Curl thread state: touched by that thread only, so no lock. ---
    std::vector<std::unique_ptr<Transfer>> transfer_pool;
    std::vector<Transfer*> active_transfers; // owned by the multi handle while listed here
    std::deque<JobPtr> waiting;              // ready to start, above max_concurrent_requests
    std::priority_queue<RetryEntry, std::vector<RetryEntry>, std::greater<>> retry_queue;
    std::optional<Clock::time_point> curl_timer_due; // CURLMOPT_TIMERFUNCTION's
    std::uint64_t retry_sequence = 0;
    std::mt19937_64 rng;
    std::uint64_t env_generation = ~std::uint64_t{0};
    std::unordered_map<std::string, std::optional<Environment>> env_cache;
    std::vector<CachedHeaders> headers_cache;                        // emptied with env_cache
    std::map<std::pair<std::string, SdkKind>, std::string> disabled; // → rejected credential
    std::set<std::tuple<std::string, SdkKind, std::string>> rejection_logged;
    std::set<std::pair<std::string, SdkKind>> no_credential_logged;
    util::LogThrottle retry_warnings{std::chrono::seconds(1)};
    util::LogThrottle drop_warnings{std::chrono::seconds(1)};

    void start();
    void stop();
    void submit(Payload payload);
    void enqueue_locked(JobPtr job);
    void wake_curl_locked();
    void wake_curl();

    void compressor_main();
    void curl_main();
    // CURLMOPT_SOCKETFUNCTION: what curl wants to know about a socket, kept in `epoll`.
    int on_curl_socket(curl_socket_t socket, int what, bool watched);
    // Completes the transfers curl says are done, then tells the listener (before any new
    // attempt starts).
    void take_finished();
    void prepare_ca_blob();
    std::unique_ptr<Transfer> take_transfer();
    void start_attempt(JobPtr job);
    // The request description of a payload (nullptr: no credential for it).
    std::shared_ptr<const RequestHeaders> request_headers_for(const Payload& payload,
                                                              const Environment& environment);
    void complete(Transfer* transfer, CURLcode result);
    const Environment* environment_for(const std::string& name);
    void on_recoverable(JobPtr job, long status, const char* curl_error);
    void on_too_large(JobPtr job, long status);
    void on_rejected(JobPtr job, long status, const std::string& credential);

    // Every job ends in one of these two; they call the listener without a lock held.
    void finish_delivered(JobPtr job, long status);
    void finish_undeliverable(JobPtr job, Undeliverable reason, long status);
    void release(std::size_t accounted);
};

void Sender::Impl::start() {
    init_curl_once();
    multi = curl_multi_init();
    if (multi == nullptr) {
        throw std::runtime_error("sender: curl_multi_init failed");
    }
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                      static_cast<long>(options.max_concurrent_requests));
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                      static_cast<long>(options.max_concurrent_requests));
    epoll = util::Fd(::epoll_create1(EPOLL_CLOEXEC));
    wakeup = util::Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = wakeup.get();
    if (!epoll || !wakeup || ::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, wakeup.get(), &event) != 0) {
        throw std::runtime_error(std::string("sender: cannot create the event loop: ") +
                                 std::strerror(errno));
    }
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(
        multi, CURLMOPT_SOCKETFUNCTION,
        +[](CURL*, curl_socket_t socket, int what, void* self, void* assigned) -> int {
            return static_cast<Impl*>(self)->on_curl_socket(socket, what, assigned != nullptr);
        });
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
    curl_multi_setopt(
        multi, CURLMOPT_TIMERFUNCTION, +[](CURLM*, long timeout_ms, void* self) -> int {
            auto* impl = static_cast<Impl*>(self);
            if (timeout_ms < 0) {
                impl->curl_timer_due.reset();
            } else {
                impl->curl_timer_due = Clock::now() + std::chrono::milliseconds(timeout_ms);
            }
            return 0;
        });
    prepare_ca_blob();
    if (options.gzip) {
        const int threads = std::max(options.compression_threads, 1);
        for (int i = 0; i < threads; ++i) {
            compressors.emplace_back([this] { compressor_main(); });
        }
    }
    curl_thread = std::thread([this] { curl_main(); });
}

void Sender::Impl::prepare_ca_blob() {
    if (options.ca_cert.empty()) {
        return;
    }
    // CURLOPT_CAINFO would replace the default bundle; SPEC §10 says --ca-cert *adds* a CA, so
    // the default bundle and the given file are concatenated into one in-memory bundle.
    std::string extra = read_file(options.ca_cert);
    if (extra.empty()) {
        spdlog::error("sender: cannot read CA file {}; TLS connections will fail", options.ca_cert);
        return;
    }
    std::string bundle;
    CURL* probe = curl_easy_init();
    char* default_path = nullptr;
    if (probe != nullptr && curl_easy_getinfo(probe, CURLINFO_CAINFO, &default_path) == CURLE_OK &&
        default_path != nullptr) {
        bundle = read_file(default_path);
    }
    if (probe != nullptr) {
        curl_easy_cleanup(probe);
    }
    if (!bundle.empty() && bundle.back() != '\n') {
        bundle.push_back('\n');
    }
    ca_blob = bundle + extra;
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
    if (options.gzip && job->compressed.empty()) {
        compress_queue.push_back(std::move(job));
        compress_cv.notify_one();
        return;
    }
    ready_queue.push_back(std::move(job));
    wake_curl_locked();
}

void Sender::Impl::wake_curl_locked() {
    if (curl_wants_wakeup) {
        curl_wants_wakeup = false;
        wake_curl();
    }
}

void Sender::Impl::wake_curl() {
    const std::uint64_t one = 1;
    (void)!::write(wakeup.get(), &one, sizeof one);
}

void Sender::Impl::compressor_main() {
    util::GzipCompressor compressor(options.gzip_level);
    std::unique_lock lock(mutex);
    while (true) {
        compress_cv.wait(lock, [&] { return stopping || !compress_queue.empty(); });
        if (stopping) {
            return;
        }
        JobPtr job = std::move(compress_queue.front());
        compress_queue.pop_front();
        lock.unlock();
        compressor.compress(job->payload.body, job->compressed);
        lock.lock();
        ready_queue.push_back(std::move(job));
        wake_curl_locked();
    }
}

std::unique_ptr<Sender::Impl::Transfer> Sender::Impl::take_transfer() {
    if (!transfer_pool.empty()) {
        std::unique_ptr<Transfer> transfer = std::move(transfer_pool.back());
        transfer_pool.pop_back();
        return transfer;
    }
    auto transfer = std::make_unique<Transfer>();
    transfer->easy = curl_easy_init();
    if (transfer->easy == nullptr) {
        return nullptr;
    }
    CURL* easy = transfer->easy;
    // Options that are the same for every attempt are set once per pooled handle.
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options.connect_timeout.count()));
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(options.request_timeout.count()));
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    // libcurl copies a POSTFIELDS body through its upload buffer (64 KiB by default) and sends it
    // a buffer at a time, polling in between: a payload of 1,000 SDK events (~400 KB) took nine
    // sendto() and ~17 poll() calls (bench/serve.sh, perf stat), with this buffer about three
    // and eight (the socket's send buffer limits the rest). The buffer belongs to the easy
    // handle: at most --max-connections of them, i.e. 8 MiB with the default 16.
    curl_easy_setopt(easy, CURLOPT_UPLOAD_BUFFERSIZE, k_upload_buffer_bytes);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer->error.data());
    // The response body is not needed; without a callback curl would write it to stdout.
    curl_easy_setopt(
        easy, CURLOPT_WRITEFUNCTION,
        +[](char*, size_t size, size_t count, void*) -> size_t { return size * count; });
    if (!ca_blob.empty()) {
        curl_blob blob{ca_blob.data(), ca_blob.size(), CURL_BLOB_NOCOPY};
        curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &blob);
    } else if (!options.ca_cert.empty()) {
        curl_easy_setopt(easy, CURLOPT_CAINFO, options.ca_cert.c_str());
    }
    if (!options.proxy.empty()) {
        curl_easy_setopt(easy, CURLOPT_PROXY, options.proxy.c_str());
    }
    curl_easy_setopt(easy, CURLOPT_PRIVATE, transfer.get());
    return transfer;
}

const Environment* Sender::Impl::environment_for(const std::string& name) {
    // Read the generation first: the data found afterwards is at least that new.
    const std::uint64_t generation = environments.generation();
    if (generation != env_generation) {
        env_cache.clear();
        headers_cache.clear();
        no_credential_logged.clear();
        env_generation = generation;
    }
    auto it = env_cache.find(name);
    if (it == env_cache.end()) {
        it = env_cache.emplace(name, environments.find_by_name(name)).first;
    }
    return it->second ? &*it->second : nullptr;
}

std::shared_ptr<const Sender::Impl::RequestHeaders>
Sender::Impl::request_headers_for(const Payload& payload, const Environment& environment) {
    // A diagnostic pass-through carries its own inbound headers: described for itself alone.
    const bool shared = payload.data != DataKind::diagnostic || payload.passthrough_headers.empty();
    if (shared) {
        for (const CachedHeaders& cached : headers_cache) {
            if (cached.sdk == payload.sdk && cached.data == payload.data &&
                cached.env_name == payload.env_name && cached.metadata == payload.metadata) {
                return cached.headers;
            }
        }
    }
    // The description of a payload like this one without its ID (or body): the ID's line is
    // filled in per attempt.
    Result<UpstreamRequest> request;
    if (shared) {
        Payload key;
        key.env_name = payload.env_name;
        key.sdk = payload.sdk;
        key.data = payload.data;
        key.metadata = payload.metadata;
        request = describe_upstream_request(key, environment, request_options);
    } else {
        request = describe_upstream_request(payload, environment, request_options);
    }
    if (!request) {
        return nullptr;
    }
    auto headers = std::make_shared<RequestHeaders>();
    headers->url = std::move(request->url);
    headers->credential = environment.credential(payload.sdk);
    for (const auto& [name, value] : request->headers) {
        if (shared && name == k_payload_id_header) {
            headers->id_position = headers->lines.size();
            continue;
        }
        headers->lines.push_back(name + ": " + value);
    }
    // "Expect: 100-continue" would cost a round trip per large body.
    headers->lines.emplace_back("Expect:");
    if (shared) {
        if (headers_cache.size() >= k_max_cached_headers) {
            headers_cache.clear(); // many metadata variants (serve): start again
        }
        headers_cache.push_back(
            CachedHeaders{payload.env_name, payload.sdk, payload.data, payload.metadata, headers});
    }
    return headers;
}

void Sender::Impl::start_attempt(JobPtr job) {
    const Payload& payload = job->payload;
    // The credential is read now, at the start of the attempt, so that a reload applies to
    // retries not yet started (SPEC §3).
    const Environment* env = environment_for(payload.env_name);
    std::shared_ptr<const RequestHeaders> request;
    if (env != nullptr) {
        request = request_headers_for(payload, *env);
    }
    if (!request) {
        const auto key = std::make_pair(payload.env_name, payload.sdk);
        if (no_credential_logged.insert(key).second) {
            if (env == nullptr) {
                spdlog::error("sender: no environment named {} is configured; dropping its {} "
                              "payloads",
                              payload.env_name, to_string(payload.sdk));
            } else {
                spdlog::error("sender: environment {} has no {} for {} payloads; dropping them",
                              payload.env_name, to_string(credential_kind_for(payload.sdk)),
                              to_string(payload.sdk));
            }
        }
        finish_undeliverable(std::move(job), Undeliverable::no_credential, 0);
        return;
    }
    const std::string& credential = request->credential;
    const auto disabled_it = disabled.find({payload.env_name, payload.sdk});
    if (disabled_it != disabled.end()) {
        if (disabled_it->second == credential) {
            finish_undeliverable(std::move(job), Undeliverable::disabled, 0);
            return;
        }
        // A reload changed the credential: the new one gets its chance (SPEC §3).
        disabled.erase(disabled_it);
    }

    std::unique_ptr<Transfer> transfer = take_transfer();
    if (!transfer) {
        // Out of memory inside curl: treat like a failed connection so the retry rule applies.
        ++job->attempts;
        on_recoverable(std::move(job), 0, "curl_easy_init failed");
        return;
    }
    CURL* easy = transfer->easy;
    curl_easy_setopt(easy, CURLOPT_URL, request->url.c_str());

    // The header list is built from nodes the transfer keeps (no allocation once warm) pointing
    // at the shared lines; curl only reads it, for as long as the transfer runs.
    std::vector<curl_slist>& nodes = transfer->header_nodes;
    nodes.clear();
    const auto add_node = [&nodes](const std::string& text) {
        nodes.push_back(curl_slist{const_cast<char*>(text.c_str()), nullptr});
    };
    if (request->id_position != std::string::npos) {
        transfer->id_line.assign(k_payload_id_header).append(": ").append(payload.id);
    }
    for (std::size_t i = 0; i <= request->lines.size(); ++i) {
        if (i == request->id_position) {
            add_node(transfer->id_line);
        }
        if (i < request->lines.size()) {
            add_node(request->lines[i]);
        }
    }
    for (std::size_t i = 0; i + 1 < nodes.size(); ++i) {
        nodes[i].next = &nodes[i + 1];
    }
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, nodes.empty() ? nullptr : nodes.data());

    const std::string& bytes = options.gzip ? job->compressed : payload.body;
    // No copy: curl reads the payload's own buffer, which lives as long as the transfer.
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(bytes.size()));
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, bytes.data());

    transfer->error[0] = '\0';
    transfer->request = std::move(request);
    ++job->attempts;
    transfer->job = std::move(job);
    if (curl_multi_add_handle(multi, easy) != CURLM_OK) {
        JobPtr failed = std::move(transfer->job);
        transfer->request.reset();
        transfer_pool.push_back(std::move(transfer));
        on_recoverable(std::move(failed), 0, "curl_multi_add_handle failed");
        return;
    }
    transfer->active_index = active_transfers.size();
    active_transfers.push_back(transfer.release()); // until complete() takes it back
}

void Sender::Impl::complete(Transfer* raw, CURLcode result) {
    std::unique_ptr<Transfer> transfer(raw);
    curl_multi_remove_handle(multi, transfer->easy);
    Transfer* moved = active_transfers.back();
    active_transfers[transfer->active_index] = moved;
    moved->active_index = transfer->active_index;
    active_transfers.pop_back();
    long status = 0;
    if (result == CURLE_OK) {
        curl_easy_getinfo(transfer->easy, CURLINFO_RESPONSE_CODE, &status);
    }
    JobPtr job = std::move(transfer->job);
    // Kept for on_rejected(): the description (and its credential) outlives a cache reset.
    const std::shared_ptr<const RequestHeaders> request = std::move(transfer->request);
    const std::string_view credential = request->credential;
    const std::string curl_error(transfer->error.data());
    transfer_pool.push_back(std::move(transfer));

    if (result != CURLE_OK && curl_error.empty()) {
        // The error buffer is empty for some failures; the generic text still helps.
        const std::string text = curl_easy_strerror(result);
        on_recoverable(std::move(job), 0, text.c_str());
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
        on_rejected(std::move(job), status, std::string(credential));
        return;
    }
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
    retry_queue.push(RetryEntry{now + delay, retry_sequence++, job.release()});
}

void Sender::Impl::on_too_large(JobPtr job, long status) {
    counters.count_upstream_status(status);
    Payload& payload = job->payload;
    std::optional<ArrayHalves> halves;
    if (payload.data == DataKind::analytics) {
        halves = split_array_in_halves(payload.body);
    }
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

    auto make_half = [&](std::string body, std::size_t events, int which) {
        auto half = std::make_unique<SenderJob>();
        half->counters = job->counters;
        Payload& p = half->payload;
        // Derived from the whole's ID: the same payload split again (a spool line re-sent after
        // one half got through) gives the same halves the same IDs, so the upstream
        // de-duplicates the half it already has.
        p.id = payload.id.empty() ? util::make_uuid_v4()
                                  : util::make_uuid_from(payload.id + "/" + std::to_string(which));
        p.env_name = payload.env_name;
        p.sdk = payload.sdk;
        p.data = payload.data;
        p.metadata = payload.metadata;
        p.body = std::move(body);
        p.event_count = events;
        p.passthrough_headers = payload.passthrough_headers;
        p.created = payload.created;
        p.origin = payload.origin;
        return half;
    };
    const std::size_t total_body = halves->first.size() + halves->second.size();
    JobPtr first = make_half(std::move(halves->first), halves->first_events, 1);
    JobPtr second = make_half(std::move(halves->second), halves->second_events, 2);
    // The lease and the in-flight accounting follow the bytes, so the halves together hold what
    // the whole held.
    const std::size_t lease_first = payload.lease.bytes() * first->payload.body.size() / total_body;
    if (payload.lease.bytes() != 0) {
        first->payload.lease = payload.lease.split(lease_first);
    }
    second->payload.lease = std::move(payload.lease);
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
    if (rejection_logged.emplace(payload.env_name, payload.sdk, credential).second) {
        spdlog::error("sender: upstream rejected {} {} of environment {} with status {}; "
                      "{} events are not forwarded until the credential changes",
                      to_string(credential_kind_for(payload.sdk)), mask_credential(credential),
                      payload.env_name, status, to_string(payload.sdk));
    }
    disabled[{payload.env_name, payload.sdk}] = credential;
    finish_undeliverable(std::move(job), Undeliverable::rejected, status);
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

int Sender::Impl::on_curl_socket(curl_socket_t socket, int what, bool watched) {
    epoll_event event{};
    event.data.fd = socket;
    if (what == CURL_POLL_REMOVE) {
        ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, socket, &event);
        return 0;
    }
    event.events =
        ((what & CURL_POLL_IN) != 0 ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) != 0 ? EPOLLOUT : 0u);
    if (::epoll_ctl(epoll.get(), watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, socket, &event) != 0) {
        spdlog::error("sender: cannot watch a socket: {}", std::strerror(errno));
        return -1;
    }
    if (!watched) {
        // Remembered by curl with the socket (until it is removed): the next call modifies.
        curl_multi_assign(multi, socket, this);
    }
    return 0;
}

void Sender::Impl::take_finished() {
    int queued = 0;
    bool any = false;
    while (CURLMsg* message = curl_multi_info_read(multi, &queued)) {
        if (message->msg != CURLMSG_DONE) {
            continue;
        }
        Transfer* transfer = nullptr;
        curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &transfer);
        const CURLcode result = message->data.result;
        complete(transfer, result);
        any = true;
    }
    if (any) {
        listener.on_outcomes_reported();
    }
}

// curl's socket interface: epoll tells which connection is ready and curl looks at that one
// transfer only. (curl_multi_perform looks at every running transfer each time, polling each
// socket once more: with 16 requests in flight and one answer arriving at a time, most of a
// small request's cost.)
void Sender::Impl::curl_main() {
    std::array<epoll_event, 64> events{};
    int running = 0;
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
        while (!retry_queue.empty() && retry_queue.top().due <= now) {
            waiting.emplace_back(retry_queue.top().job);
            retry_queue.pop();
        }
        // The sender's own limit, rather than curl's pending queue, bounds concurrency, so that a
        // request's timeout never runs while it waits for a connection.
        while (active_transfers.size() < options.max_concurrent_requests && !waiting.empty()) {
            JobPtr job = std::move(waiting.front());
            waiting.pop_front();
            start_attempt(std::move(job));
        }

        const bool room = active_transfers.size() < options.max_concurrent_requests;
        std::chrono::milliseconds timeout(1000);
        if (!waiting.empty() && room) {
            timeout = std::chrono::milliseconds(0);
        } else if (!retry_queue.empty()) {
            const auto until_due =
                std::chrono::ceil<std::chrono::milliseconds>(retry_queue.top().due - Clock::now());
            timeout = std::clamp(until_due, std::chrono::milliseconds(0), timeout);
        }
        if (curl_timer_due) {
            const auto until_due =
                std::chrono::ceil<std::chrono::milliseconds>(*curl_timer_due - Clock::now());
            timeout = std::clamp(until_due, std::chrono::milliseconds(0), timeout);
        }
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
        const int count = ::epoll_wait(epoll.get(), events.data(), static_cast<int>(events.size()),
                                       static_cast<int>(timeout.count()));
        for (int i = 0; i < count; ++i) {
            const epoll_event& event = events[static_cast<std::size_t>(i)];
            if (event.data.fd == wakeup.get()) {
                std::uint64_t value = 0;
                (void)!::read(wakeup.get(), &value, sizeof value);
                continue;
            }
            int bits = 0;
            bits |= (event.events & EPOLLIN) != 0 ? CURL_CSELECT_IN : 0;
            bits |= (event.events & EPOLLOUT) != 0 ? CURL_CSELECT_OUT : 0;
            bits |= (event.events & (EPOLLERR | EPOLLHUP)) != 0 ? CURL_CSELECT_ERR : 0;
            curl_multi_socket_action(multi, event.data.fd, bits, &running);
        }
        if (curl_timer_due && *curl_timer_due <= Clock::now()) {
            curl_timer_due.reset(); // curl sets it again from within the call when it needs to
            curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
        }
        take_finished();
    }

    // Stopping: take every job back from curl and hand it to stop().
    std::vector<JobPtr> remaining;
    for (Transfer* raw : active_transfers) {
        std::unique_ptr<Transfer> transfer(raw);
        curl_multi_remove_handle(multi, transfer->easy);
        transfer->request.reset();
        remaining.push_back(std::move(transfer->job));
        transfer_pool.push_back(std::move(transfer));
    }
    active_transfers.clear();
    for (JobPtr& job : waiting) {
        remaining.push_back(std::move(job));
    }
    waiting.clear();
    while (!retry_queue.empty()) {
        remaining.emplace_back(retry_queue.top().job);
        retry_queue.pop();
    }
    std::lock_guard lock(mutex);
    for (JobPtr& job : remaining) {
        leftover.push_back(std::move(job));
    }
}

} // namespace evrelay

namespace evrelay {

Sender::Impl::~Impl() {
    for (std::unique_ptr<Transfer>& transfer : transfer_pool) {
        curl_easy_cleanup(transfer->easy);
    }
    transfer_pool.clear();
    if (multi != nullptr) {
        curl_multi_cleanup(multi);
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
    compress_cv.notify_all();
    space_cv.notify_all();
    if (wakeup) {
        wake_curl();
    }
    for (std::thread& compressor : compressors) {
        compressor.join();
    }
    if (curl_thread.joinable()) {
        curl_thread.join();
    }
    // Every thread is gone: what is left in the queues is reported here, on stop()'s thread.
    std::vector<JobPtr> remaining;
    {
        std::lock_guard lock(mutex);
        for (std::deque<JobPtr>* queue : {&compress_queue, &ready_queue}) {
            for (JobPtr& job : *queue) {
                remaining.push_back(std::move(job));
            }
            queue->clear();
        }
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

std::size_t Sender::in_flight_bytes() const {
    std::lock_guard lock(m_impl->mutex);
    return m_impl->in_flight_bytes;
}

std::size_t Sender::pending_payloads() const {
    std::lock_guard lock(m_impl->mutex);
    return m_impl->pending;
}

} // namespace evrelay
