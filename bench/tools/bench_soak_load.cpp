// The load of bench/soak.sh: SDK-like requests of every kind `serve` takes, at a steady rate, for
// as long as the soak runs, over keep-alive connections (libcurl, one handle per connection and
// target). Every request is one of a fixed cycle of 20 (bench/README.md "Soak"): analytics posts
// on every route (/bulk; /mobile, /mobile/events, /mobile/events/bulk; /events/bulk/{envId}), the
// image beacon (GET /a/{envId}.gif?d=…), diagnostic posts on the three diagnostic routes, a CORS
// preflight, and GET /status and /metrics; posts vary gzip on/off, schema 3/4, two tags values or
// none, and 1, 5, 20 or 50 events (the realistic events of bench_events.hpp, distinct in every
// post). Analytics posts carry an SDK payload ID, as SDKs send one.
//
//   bench_soak_load --url URL [--url URL ...] --sdk-key K --mobile-key M --env-id E
//                   [--rate REQUESTS_PER_S] [--connections N] [--duration SECONDS]
//                   [--requests N] [--mix all|warm-up]
//
// Whole cycles go to the URLs in turn. `--mix warm-up` sends only /bulk posts of one event with
// a payload ID each, uncompressed: bench/soak.sh fills a durable serve's memory of recent payload
// IDs with them before it measures. It stops after --duration or --requests (default: until
// SIGTERM/SIGINT), finishes the requests in hand and prints its totals on stdout as key=value
// lines:
//   requests, analytics_posts_acked, analytics_events_acked (beacon included),
//   diagnostic_posts_acked, other_acked (preflights, status, metrics), failed (non-2xx or no
//   answer), failed_analytics_events, status_<code> (each non-2xx status seen), transport_errors.
// The soak compares analytics_events_acked with the events the upstream counted.

#include "bench_events.hpp"

#include "core/util/base64.hpp"
#include "core/util/gzip.hpp"
#include "core/util/uuid.hpp"

#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) {
    g_stop = 1;
}

// --mix all: the cycle of 20 (the soak); --mix warm-up: only /bulk posts of one event, each with
// its payload ID, uncompressed (fills a durable serve's memory of recent payload IDs fast).
enum class Mix { all, warm_up };

struct Settings {
    std::vector<std::string> urls;
    Mix mix = Mix::all;
    std::uint64_t max_requests = 0; // 0: no limit
    std::string sdk_key;
    std::string mobile_key;
    std::string env_id;
    double rate = 100;
    int connections = 4;
    double duration_seconds = 0; // 0: until a signal
};

enum class Kind { analytics, beacon, diagnostic, other };

// One request of the cycle.
struct Request {
    Kind kind = Kind::other;
    std::string method = "POST";
    std::string path;
    std::vector<std::string> headers;
    std::string body;
    std::uint64_t events = 0; // analytics events in it
};

struct Totals {
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> analytics_posts_acked{0};
    std::atomic<std::uint64_t> analytics_events_acked{0};
    std::atomic<std::uint64_t> diagnostic_posts_acked{0};
    std::atomic<std::uint64_t> other_acked{0};
    std::atomic<std::uint64_t> failed{0};
    std::atomic<std::uint64_t> failed_analytics_events{0};
    std::atomic<std::uint64_t> transport_errors{0};
    std::mutex statuses_mutex;
    std::map<long, std::uint64_t> failed_statuses;
};

Totals g_totals;
std::atomic<std::uint64_t> g_next_round{0};
std::atomic<std::uint64_t> g_requests_started{0}; // --requests

// The events of one post: `count` distinct events of the next round of the fixture's 50.
std::string events_array(const evrelay::bench::RealisticEvents& source, std::size_t count) {
    std::string round;
    std::vector<std::pair<std::size_t, std::size_t>> spans;
    source.append_round(g_next_round.fetch_add(1), round, ',', &spans);
    count = std::min(count, spans.size());
    std::string array = "[";
    for (std::size_t i = 0; i < count; ++i) {
        if (i != 0) {
            array += ',';
        }
        array.append(round, spans[i].first, spans[i].second);
    }
    array += ']';
    return array;
}

std::string diagnostic_body(std::uint64_t n) {
    return R"({"kind":"diagnostic","id":{"diagnosticId":")" + evrelay::util::make_uuid_v4() +
           R"(","sdkKeySuffix":"soak01"},"creationDate":)" + std::to_string(1764000000000 + n) +
           R"(,"droppedEvents":0,"deduplicatedUsers":0,"eventsInLastBatch":)" +
           std::to_string(n % 50) + R"(,"streamInits":[]})";
}

// The URL-safe, unpadded base64 browser SDKs put in the beacon's d= parameter.
std::string beacon_data(std::string_view json) {
    std::string data = evrelay::util::encode_base64(json);
    while (!data.empty() && data.back() == '=') {
        data.pop_back();
    }
    for (char& c : data) {
        c = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    return data;
}

// Request number `n` of the cycle of 20.
Request make_request(const Settings& settings, const evrelay::bench::RealisticEvents& source,
                     evrelay::util::GzipCompressor& gzip, std::uint64_t n) {
    // The variations come from a hash of n, not from n itself: a request's place in the cycle
    // of 20 must not decide its gzip, schema, tags or size.
    static constexpr std::size_t k_sizes[] = {1, 5, 20, 50};
    const std::uint64_t bits = evrelay::bench::mix64(n);
    const std::size_t events = settings.mix == Mix::warm_up ? 1 : k_sizes[bits % 4];
    const bool gzipped = settings.mix == Mix::all && ((bits >> 2) & 1) == 0;
    const int schema = ((bits >> 3) & 1) == 0 ? 4 : 3;
    const std::uint64_t tag_choice = (bits >> 4) % 3;
    const std::string tags = tag_choice == 0   ? "application-id/soak-a"
                             : tag_choice == 1 ? "application-id/soak-b"
                                               : "";
    const std::string& env = settings.env_id;
    Request request;
    const auto analytics = [&](std::string path, const std::string& credential) {
        request.kind = Kind::analytics;
        request.path = std::move(path);
        if (!credential.empty()) {
            request.headers.push_back("Authorization: " + credential);
        }
        request.headers.push_back("X-LaunchDarkly-Event-Schema: " + std::to_string(schema));
        request.headers.push_back("X-LaunchDarkly-Payload-ID: " + evrelay::util::make_uuid_v4());
        if (!tags.empty()) {
            request.headers.push_back("X-LaunchDarkly-Tags: " + tags);
        }
        request.body = events_array(source, events);
        request.events = events;
    };
    const auto diagnostic = [&](std::string path, const std::string& credential) {
        request.kind = Kind::diagnostic;
        request.path = std::move(path);
        if (!credential.empty()) {
            request.headers.push_back("Authorization: " + credential);
        }
        request.body = diagnostic_body(n);
    };
    switch (settings.mix == Mix::warm_up ? 0 : n % 20) {
    case 3:
        analytics("/mobile", settings.mobile_key);
        break;
    case 7:
        analytics("/mobile/events", settings.mobile_key);
        break;
    case 12:
        analytics("/mobile/events/bulk", settings.mobile_key);
        break;
    case 5:
    case 11:
        analytics("/events/bulk/" + env, "");
        request.headers.push_back("Origin: https://soak.example");
        break;
    case 8: {
        const std::size_t count = 1 + n % 3;
        const std::string array = events_array(source, count);
        request.kind = Kind::beacon;
        request.method = "GET";
        request.path = "/a/" + env + ".gif?d=" + beacon_data(array);
        request.events = count;
        return request;
    }
    case 10:
        diagnostic("/diagnostic", settings.sdk_key);
        break;
    case 14:
        diagnostic("/mobile/events/diagnostic", settings.mobile_key);
        break;
    case 15:
        diagnostic("/events/diagnostic/" + env, "");
        break;
    case 17:
        request.method = "OPTIONS";
        request.path = "/events/bulk/" + env;
        request.headers = {"Origin: https://soak.example", "Access-Control-Request-Method: POST",
                           "Access-Control-Request-Headers: Content-Type"};
        return request;
    case 19:
        request.method = "GET";
        request.path = (n / 20) % 2 == 0 ? "/status" : "/metrics";
        return request;
    default:
        analytics("/bulk", settings.sdk_key);
        break;
    }
    request.headers.emplace_back("Content-Type: application/json");
    if (gzipped) {
        std::string compressed;
        gzip.compress(request.body, compressed);
        request.body = std::move(compressed);
        request.headers.emplace_back("Content-Encoding: gzip");
    }
    return request;
}

std::size_t discard(char*, std::size_t size, std::size_t count, void*) {
    return size * count;
}

void record(const Request& request, CURLcode code, long status) {
    g_totals.requests.fetch_add(1);
    if (code != CURLE_OK || status < 200 || status > 299) {
        g_totals.failed.fetch_add(1);
        g_totals.failed_analytics_events.fetch_add(request.events);
        if (code != CURLE_OK) {
            g_totals.transport_errors.fetch_add(1);
        } else {
            std::lock_guard lock(g_totals.statuses_mutex);
            ++g_totals.failed_statuses[status];
        }
        return;
    }
    switch (request.kind) {
    case Kind::analytics:
        g_totals.analytics_posts_acked.fetch_add(1);
        g_totals.analytics_events_acked.fetch_add(request.events);
        break;
    case Kind::beacon:
        g_totals.analytics_events_acked.fetch_add(request.events);
        break;
    case Kind::diagnostic:
        g_totals.diagnostic_posts_acked.fetch_add(1);
        break;
    case Kind::other:
        g_totals.other_acked.fetch_add(1);
        break;
    }
}

// One connection's worth of the load: every `interval`, the next request of the cycle, to the
// next URL (one keep-alive handle per URL).
void run_connection(const Settings& settings, const evrelay::bench::RealisticEvents& source,
                    int index, Clock::time_point until) {
    std::vector<CURL*> handles;
    for (std::size_t i = 0; i < settings.urls.size(); ++i) {
        CURL* handle = curl_easy_init();
        curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, 30'000L);
        curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
        handles.push_back(handle);
    }
    evrelay::util::GzipCompressor gzip(6);
    const auto interval = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(settings.connections / settings.rate));
    Clock::time_point next = Clock::now() + interval * index / settings.connections;
    for (std::uint64_t i = 0; g_stop == 0 && Clock::now() < until; ++i) {
        if (settings.max_requests > 0 && g_requests_started.fetch_add(1) >= settings.max_requests) {
            break;
        }
        std::this_thread::sleep_until(next);
        // Never more than one interval of catching up: a stalled server is not then flooded.
        next = std::max(next + interval, Clock::now() - interval);
        const std::uint64_t n = i * static_cast<std::uint64_t>(settings.connections) +
                                static_cast<std::uint64_t>(index);
        const Request request = make_request(settings, source, gzip, n);
        // Whole cycles of 20 alternate between the URLs, so that each serve gets every kind.
        const std::size_t target = (n / 20) % handles.size();
        CURL* handle = handles[target];
        const std::string url = settings.urls[target] + request.path;
        curl_slist* headers = nullptr;
        for (const std::string& header : request.headers) {
            headers = curl_slist_append(headers, header.c_str());
        }
        headers = curl_slist_append(headers, "Expect:");
        curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
        curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, nullptr);
        if (request.method == "POST") {
            curl_easy_setopt(handle, CURLOPT_POSTFIELDS, request.body.data());
            curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE,
                             static_cast<curl_off_t>(request.body.size()));
        } else {
            curl_easy_setopt(handle, CURLOPT_HTTPGET, 1L);
            if (request.method != "GET") {
                curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, request.method.c_str());
            }
        }
        const CURLcode code = curl_easy_perform(handle);
        long status = 0;
        curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(headers);
        curl_easy_setopt(handle, CURLOPT_HTTPHEADER, nullptr);
        record(request, code, status);
    }
    for (CURL* handle : handles) {
        curl_easy_cleanup(handle);
    }
}

int usage(const char* program) {
    std::fprintf(stderr,
                 "usage: %s --url URL [--url URL ...] --sdk-key K --mobile-key M --env-id E "
                 "[--rate REQUESTS_PER_S] [--connections N] [--duration SECONDS] "
                 "[--requests N] [--mix all|warm-up]\n",
                 program);
    return 64;
}

} // namespace

int main(int argc, char** argv) {
    Settings settings;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (i + 1 >= argc) {
            return usage(argv[0]);
        }
        const char* value = argv[++i];
        if (arg == "--url") {
            settings.urls.emplace_back(value);
        } else if (arg == "--sdk-key") {
            settings.sdk_key = value;
        } else if (arg == "--mobile-key") {
            settings.mobile_key = value;
        } else if (arg == "--env-id") {
            settings.env_id = value;
        } else if (arg == "--rate") {
            settings.rate = std::strtod(value, nullptr);
        } else if (arg == "--connections") {
            settings.connections = std::atoi(value);
        } else if (arg == "--duration") {
            settings.duration_seconds = std::strtod(value, nullptr);
        } else if (arg == "--requests") {
            settings.max_requests = std::strtoull(value, nullptr, 10);
        } else if (arg == "--mix" && std::string_view(value) == "all") {
            settings.mix = Mix::all;
        } else if (arg == "--mix" && std::string_view(value) == "warm-up") {
            settings.mix = Mix::warm_up;
        } else {
            return usage(argv[0]);
        }
    }
    if (settings.urls.empty() || settings.sdk_key.empty() || settings.mobile_key.empty() ||
        settings.env_id.empty() || !(settings.rate > 0) || settings.connections < 1) {
        return usage(argv[0]);
    }
    auto source =
        evrelay::bench::RealisticEvents::load(std::string(evrelay::bench::k_default_fixture));
    if (!source) {
        std::fprintf(stderr, "cannot read %s\n", evrelay::bench::k_default_fixture.data());
        return 66;
    }
    struct sigaction action {};
    action.sa_handler = on_signal;
    ::sigaction(SIGTERM, &action, nullptr);
    ::sigaction(SIGINT, &action, nullptr);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    const Clock::time_point until =
        settings.duration_seconds > 0
            ? Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(settings.duration_seconds))
            : Clock::time_point::max();
    std::vector<std::thread> threads;
    threads.reserve(static_cast<std::size_t>(settings.connections));
    for (int index = 0; index < settings.connections; ++index) {
        threads.emplace_back(run_connection, std::cref(settings), std::cref(*source), index, until);
    }
    for (auto& thread : threads) {
        thread.join();
    }
    curl_global_cleanup();

    std::printf("requests=%llu\n", static_cast<unsigned long long>(g_totals.requests.load()));
    std::printf("analytics_posts_acked=%llu\n",
                static_cast<unsigned long long>(g_totals.analytics_posts_acked.load()));
    std::printf("analytics_events_acked=%llu\n",
                static_cast<unsigned long long>(g_totals.analytics_events_acked.load()));
    std::printf("diagnostic_posts_acked=%llu\n",
                static_cast<unsigned long long>(g_totals.diagnostic_posts_acked.load()));
    std::printf("other_acked=%llu\n", static_cast<unsigned long long>(g_totals.other_acked.load()));
    std::printf("failed=%llu\n", static_cast<unsigned long long>(g_totals.failed.load()));
    std::printf("failed_analytics_events=%llu\n",
                static_cast<unsigned long long>(g_totals.failed_analytics_events.load()));
    std::printf("transport_errors=%llu\n",
                static_cast<unsigned long long>(g_totals.transport_errors.load()));
    for (const auto& [status, count] : g_totals.failed_statuses) {
        std::printf("status_%ld=%llu\n", status, static_cast<unsigned long long>(count));
    }
    return 0;
}
