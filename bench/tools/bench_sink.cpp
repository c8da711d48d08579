// The upstream of the benchmarks: HTTP/1.1 over epoll on 127.0.0.1, keep-alive, bodies with
// Content-Length or chunked (answering Expect: 100-continue), every request answered 202 with an
// empty body. Two modes:
//
// - By default it reads every body in full with large reads and DISCARDS it (bench/replay.sh with
//   BENCH_SINK=bench_sink, no nginx, or to cross-check nginx): receiving 2 GiB in 256 MiB POSTs
//   cost nginx's worker 1.08 s of CPU and this sink 1.16 s on the 2-core benchmark machine, so
//   either leaves the cores to the replay.
// - With --count-events (bench/serve.sh) it also COUNTS the events it receives, so that the
//   benchmark can check that every event `serve` accepted reached the upstream instead of
//   assuming it. Each request body is kept until it is complete (a Content-Length body is read
//   straight into its buffer), gunzipped when it says `Content-Encoding: gzip`, and its top-level
//   array elements are counted from simdjson's structural index (count_events). Counting by JSON
//   structure, not by searching for `"kind":`, matters: the fixture's events nest objects that
//   have a `kind` of their own (`"reason":{"kind":"RULE_MATCH",…}`). A body that is not a JSON
//   array is counted as `other_bodies` (diagnostic events are objects) and a body whose brackets
//   do not balance, or with invalid UTF-8 or an unclosed string, as `bad_bodies`.
//   Counting is by payload ID, as the events service de-duplicates: a body answered 2xx whose
//   `X-LaunchDarkly-Payload-ID` was answered 2xx before is not counted again in `events` but in
//   `duplicate_payloads` / `duplicate_events` (a sender's retry of a payload whose answer it
//   missed, or a spool re-sending what a crash interrupted). A body answered anything else is
//   read and not counted (`refused`). The --count-summary counts follow the same rule.
// - With --count-summary (bench/serve.sh's summarising mode; implies --count-events) it also
//   parses every body (a simdjson DOM parse: the summarised output is a few small events per post,
//   so this costs little) and counts the events by kind, and adds up the `count` of every counter
//   of every `summary` event: the evaluations the upstream was told about, which the benchmark
//   compares with the `feature` events it posted (each must be counted exactly once).
// - With --flap STATUS:SECONDS[,STATUS:SECONDS...] (bench/soak.sh) it answers POSTs with each
//   status in turn for its number of seconds, cycling (e.g. 202:20,503:10: 20 s up, 10 s down),
//   until `GET /steady`, after which it answers 202 again.
//
//   bench_sink [--port N] [--count-events] [--count-summary] [--flap STATUS:SECONDS,...]
//       (port 0 or absent: an ephemeral port; prints "port=N" once listening)
//
// `GET /stats` answers one line (the POSTs so far), and the same line goes to stderr on SIGTERM:
//   requests=N refused=N body_bytes=N                     (bytes as received)
// or, with --count-events,
//   requests=N refused=N body_bytes=N wire_bytes=N events=N gzip_bodies=N other_bodies=N
//   bad_bodies=N duplicate_payloads=N duplicate_events=N
// (requests: every POST, refused included; body_bytes after gunzip, wire_bytes as received; the
// counts after `refused` are of bodies answered 2xx), and with --count-summary, after those,
//   kind_feature=N kind_debug=N kind_index=N kind_identify=N kind_custom=N kind_summary=N
//   kind_other=N summary_count=N unknown_count=N summary_bad=N
// (kind_other: any other kind, or an element without a string `kind`; summary_count: the sum of
// the counters' `count`, unknown_count: the part of it in counters marked `"unknown":true`;
// summary_bad: summary events whose features/counters/count are not what the schema says).

#include "core/util/gzip.hpp"

#include <simdjson.h>

#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <string_view>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace {

constexpr std::size_t k_read_bytes = 1u << 20;
// Counting: after a request whose body was larger than k_copy_body_bytes, the next read between
// requests takes only a head's worth (k_head_read_bytes): the rest of a big body then goes
// straight into its buffer. Smaller bodies are cheaper to copy than to read with a syscall of
// their own. (Discarding, every read is a large one: nothing is copied.)
constexpr std::size_t k_head_read_bytes = 4096;
constexpr std::size_t k_copy_body_bytes = 64u << 10;
constexpr std::size_t k_max_head_bytes = 64u << 10;
constexpr std::size_t k_max_body_bytes = 256u << 20; // counting; discarded bodies have no limit
constexpr std::string_view k_accepted = "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n";
constexpr std::string_view k_continue = "HTTP/1.1 100 Continue\r\n\r\n";

struct Totals {
    std::uint64_t requests = 0;
    std::uint64_t refused = 0; // answered with a status other than 2xx (--flap)
    std::uint64_t body_bytes = 0;
    std::uint64_t wire_bytes = 0;
    std::uint64_t events = 0;
    std::uint64_t gzip_bodies = 0;
    std::uint64_t other_bodies = 0;
    std::uint64_t bad_bodies = 0;
    std::uint64_t duplicate_payloads = 0;
    std::uint64_t duplicate_events = 0;
};

// --count-summary
struct KindTotals {
    std::uint64_t feature = 0;
    std::uint64_t debug = 0;
    std::uint64_t index = 0;
    std::uint64_t identify = 0;
    std::uint64_t custom = 0;
    std::uint64_t summary = 0;
    std::uint64_t other = 0;
    std::uint64_t summary_count = 0;
    std::uint64_t unknown_count = 0;
    std::uint64_t summary_bad = 0;
};

Totals g_totals;
KindTotals g_kinds;
bool g_count_events = false;  // --count-events; otherwise bodies are discarded as they arrive
bool g_count_summary = false; // --count-summary (sets g_count_events too)
volatile std::sig_atomic_t g_stop = 0;
// Payload IDs answered 2xx so far (--count-events).
std::unordered_set<std::string> g_delivered_ids;

// --flap: the statuses answered in turn, each for its number of seconds, from the start.
struct FlapPhase {
    int status = 202;
    double seconds = 0;
};
std::vector<FlapPhase> g_flap;
double g_flap_started = 0;
bool g_steady = false; // GET /steady: the flapping is over

double monotonic_seconds() {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

// The status the POST being answered now gets.
int current_status() {
    if (g_flap.empty() || g_steady) {
        return 202;
    }
    double cycle = 0;
    for (const FlapPhase& phase : g_flap) {
        cycle += phase.seconds;
    }
    double at = std::fmod(monotonic_seconds() - g_flap_started, cycle);
    for (const FlapPhase& phase : g_flap) {
        if (at < phase.seconds) {
            return phase.status;
        }
        at -= phase.seconds;
    }
    return g_flap.back().status;
}

// Parses "202:20,503:10"; false when it is not that.
bool parse_flap(std::string_view text) {
    while (!text.empty()) {
        const std::size_t comma = text.find(',');
        const std::string phase(text.substr(0, comma));
        text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
        char* end = nullptr;
        const long status = std::strtol(phase.c_str(), &end, 10);
        if (*end != ':' || status < 200 || status > 599) {
            return false;
        }
        const double seconds = std::strtod(end + 1, &end);
        if (*end != '\0' || !(seconds > 0)) {
            return false;
        }
        g_flap.push_back({static_cast<int>(status), seconds});
    }
    return !g_flap.empty();
}

enum class State { head, body_length, chunk_size, chunk_data, chunk_data_end, trailers };

// A request body: grows by doubling, is never zero-filled, keeps its capacity between requests
// and always has simdjson's padding after its bytes, so that the socket is read straight into it
// and it is counted in place (each copy of the ~400 KB bodies costs the sink CPU that serve,
// sharing the two cores, would otherwise have).
struct BodyBuffer {
    std::unique_ptr<char[]> bytes;
    std::size_t size = 0;
    std::size_t capacity = 0; // not counting the padding

    // Room for `n` more bytes after the body, returned as where they go.
    char* tail(std::size_t n) {
        if (size + n > capacity) {
            const std::size_t grown = std::max(size + n, capacity * 2);
            auto bigger =
                std::make_unique_for_overwrite<char[]>(grown + simdjson::SIMDJSON_PADDING);
            if (size > 0) {
                std::memcpy(bigger.get(), bytes.get(), size);
            }
            bytes = std::move(bigger);
            capacity = grown;
        }
        return bytes.get() + size;
    }
    void append(std::string_view data) {
        std::memcpy(tail(data.size()), data.data(), data.size());
        size += data.size();
    }
    std::string_view view() const { return {bytes.get(), size}; }
    void clear() { size = 0; }
};

struct Connection {
    int fd = -1;
    State state = State::head;
    std::string line; // the request head, or a chunk-size / trailer line
    BodyBuffer body;  // counting only
    std::uint64_t remaining = 0;
    std::size_t last_body_size = 0; // of the previous request: sizes the next head read
    std::string payload_id;         // X-LaunchDarkly-Payload-ID, counting only
    bool gzip = false;
    bool is_stats = false;
    bool is_steady = false;
    bool close_after = false;
    bool closing = false;
    bool watching_out = false; // EPOLLOUT registered
    std::string out;
};

std::string stats_line() {
    std::string line = "requests=" + std::to_string(g_totals.requests) +
                       " refused=" + std::to_string(g_totals.refused) +
                       " body_bytes=" + std::to_string(g_totals.body_bytes);
    if (!g_count_events) {
        return line + "\n";
    }
    line += " wire_bytes=" + std::to_string(g_totals.wire_bytes) +
            " events=" + std::to_string(g_totals.events) +
            " gzip_bodies=" + std::to_string(g_totals.gzip_bodies) +
            " other_bodies=" + std::to_string(g_totals.other_bodies) +
            " bad_bodies=" + std::to_string(g_totals.bad_bodies) +
            " duplicate_payloads=" + std::to_string(g_totals.duplicate_payloads) +
            " duplicate_events=" + std::to_string(g_totals.duplicate_events);
    if (g_count_summary) {
        line += " kind_feature=" + std::to_string(g_kinds.feature) +
                " kind_debug=" + std::to_string(g_kinds.debug) +
                " kind_index=" + std::to_string(g_kinds.index) +
                " kind_identify=" + std::to_string(g_kinds.identify) +
                " kind_custom=" + std::to_string(g_kinds.custom) +
                " kind_summary=" + std::to_string(g_kinds.summary) +
                " kind_other=" + std::to_string(g_kinds.other) +
                " summary_count=" + std::to_string(g_kinds.summary_count) +
                " unknown_count=" + std::to_string(g_kinds.unknown_count) +
                " summary_bad=" + std::to_string(g_kinds.summary_bad);
    }
    return line + "\n";
}

bool iequals_prefix(std::string_view text, std::string_view prefix) {
    if (text.size() < prefix.size()) {
        return false;
    }
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        char c = text[i];
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
        if (c != prefix[i]) {
            return false;
        }
    }
    return true;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
        text.remove_prefix(1);
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
        text.remove_suffix(1);
    }
    return text;
}

// Counts the elements of a JSON array body (returned; a body that is not an array, or not whole,
// is counted in other_bodies / bad_bodies and returns 0); `body` has simdjson's padding.
// simdjson's stage 1 (the runtime-dispatched SIMD kernel of its DOM parser) indexes the body's
// structural characters — which also checks UTF-8 and that every string is closed — and a walk
// of that index counts the '{' that open depth 2. A full validation (a DOM parse) would cost the
// sink three times as much CPU, taken from the two cores it shares with serve and wrk; serve's
// output is validated by its own tests, the sink only has to count exactly.
std::uint64_t count_events(const char* body, std::size_t size) {
    // +1 for the characters that open an array or object, -1 for those that close one.
    static constexpr std::array<std::int8_t, 256> k_depth_change = [] {
        std::array<std::int8_t, 256> table{};
        table['{'] = table['['] = 1;
        table['}'] = table[']'] = -1;
        return table;
    }();
    static simdjson::dom::parser parser;
    if ((parser.capacity() < size || !parser.implementation) &&
        parser.allocate(std::max(size, parser.capacity() * 2)) != simdjson::SUCCESS) {
        ++g_totals.bad_bodies;
        return 0;
    }
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(body);
    if (parser.implementation->stage1(bytes, size, simdjson::stage1_mode::regular) !=
        simdjson::SUCCESS) {
        ++g_totals.bad_bodies;
        return 0;
    }
    const std::uint32_t* index = parser.implementation->structural_indexes.get();
    const std::uint32_t count = parser.implementation->n_structural_indexes;
    if (body[index[0]] != '[') {
        ++g_totals.other_bodies;
        return 0;
    }
    // Branch-free: most entries are strings, and a switch on the character mispredicts.
    int depth = 0;
    std::uint64_t events = 0;
    for (std::uint32_t i = 0; i < count; ++i) {
        const auto c = static_cast<unsigned char>(body[index[i]]);
        events += static_cast<std::uint64_t>((c == '{') & (depth == 1));
        depth += k_depth_change[c];
    }
    if (depth != 0) {
        ++g_totals.bad_bodies;
        return 0;
    }
    return events;
}

// Adds the counters of one summary event ({"kind":"summary","features":{key:{"counters":[{
// "count":N,…},…],…},…},…}) to g_kinds.
void add_summary(simdjson::dom::element summary) {
    simdjson::dom::object features;
    if (summary["features"].get_object().get(features) != simdjson::SUCCESS) {
        ++g_kinds.summary_bad;
        return;
    }
    for (const simdjson::dom::key_value_pair flag : features) {
        simdjson::dom::array counters;
        if (flag.value["counters"].get_array().get(counters) != simdjson::SUCCESS) {
            ++g_kinds.summary_bad;
            continue;
        }
        for (const simdjson::dom::element counter : counters) {
            std::uint64_t count = 0;
            if (counter["count"].get_uint64().get(count) != simdjson::SUCCESS) {
                ++g_kinds.summary_bad;
                continue;
            }
            g_kinds.summary_count += count;
            bool unknown = false;
            if (counter["unknown"].get_bool().get(unknown) == simdjson::SUCCESS && unknown) {
                g_kinds.unknown_count += count;
            }
        }
    }
}

// --count-summary: counts the events of a JSON array body by kind, and the summaries' counters.
// `body` has simdjson's padding after `size` bytes.
void count_kinds(const char* body, std::size_t size) {
    static simdjson::dom::parser parser;
    simdjson::dom::array events;
    if (parser.parse(body, size, false).get_array().get(events) != simdjson::SUCCESS) {
        return; // not an array, or not JSON: count_events() has said so
    }
    for (const simdjson::dom::element event : events) {
        std::string_view kind;
        if (event["kind"].get_string().get(kind) != simdjson::SUCCESS) {
            kind = {}; // no string "kind": counted as other
        }
        if (kind == "feature") {
            ++g_kinds.feature;
        } else if (kind == "debug") {
            ++g_kinds.debug;
        } else if (kind == "index") {
            ++g_kinds.index;
        } else if (kind == "identify") {
            ++g_kinds.identify;
        } else if (kind == "custom") {
            ++g_kinds.custom;
        } else if (kind == "summary") {
            ++g_kinds.summary;
            add_summary(event);
        } else {
            ++g_kinds.other;
        }
    }
}

// Counts a complete body kept in c.body.
void count_body(Connection& c) {
    g_totals.wire_bytes += c.body.size;
    std::string plain;
    std::string_view body = c.body.view();
    if (c.gzip) {
        ++g_totals.gzip_bodies;
        auto gunzipped = evrelay::util::gunzip(body, k_max_body_bytes);
        plain = gunzipped ? std::move(*gunzipped) : std::string();
        plain.reserve(plain.size() + simdjson::SIMDJSON_PADDING);
        body = plain;
    }
    g_totals.body_bytes += body.size();
    if (body.empty()) {
        ++g_totals.bad_bodies;
        return;
    }
    const std::uint64_t events = count_events(body.data(), body.size());
    // The events service counts a payload ID once: a second 2xx for it is a duplicate.
    if (!c.payload_id.empty() && !g_delivered_ids.insert(c.payload_id).second) {
        ++g_totals.duplicate_payloads;
        g_totals.duplicate_events += events;
    } else {
        g_totals.events += events;
        // A duplicate's evaluations were counted with its first delivery, so only here.
        if (g_count_summary) {
            count_kinds(body.data(), body.size());
        }
    }
}

void finish_request(Connection& c) {
    if (c.is_stats || c.is_steady) {
        g_steady = g_steady || c.is_steady;
        const std::string body = c.is_stats ? stats_line() : std::string("steady\n");
        c.out += "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n" + body;
    } else if (const int status = current_status(); status < 200 || status > 299) {
        ++g_totals.requests;
        ++g_totals.refused;
        c.out += "HTTP/1.1 " + std::to_string(status) + " Refused\r\nContent-Length: 0\r\n\r\n";
    } else {
        ++g_totals.requests;
        if (g_count_events) {
            count_body(c);
        }
        c.out += k_accepted;
    }
    if (c.close_after) {
        c.closing = true;
    }
    c.state = State::head;
    c.line.clear();
    c.last_body_size = c.body.size;
    c.body.clear();
}

// Parses the head in c.line.
void start_request(Connection& c) {
    std::string_view head = c.line;
    const std::size_t first_end = head.find("\r\n");
    const std::string_view request_line = head.substr(0, first_end);
    c.is_stats = request_line.substr(0, 11) == "GET /stats ";
    c.is_steady = request_line.substr(0, 12) == "GET /steady ";
    c.payload_id.clear();
    c.close_after = request_line.ends_with("HTTP/1.0");
    c.gzip = false;
    bool chunked = false;
    bool expect_continue = false;
    std::uint64_t length = 0;
    std::size_t pos = first_end + 2;
    while (pos < head.size()) {
        const std::size_t end = head.find("\r\n", pos);
        const std::string_view field = head.substr(pos, end - pos);
        pos = end + 2;
        if (iequals_prefix(field, "content-length:")) {
            length = std::strtoull(std::string(trim(field.substr(15))).c_str(), nullptr, 10);
        } else if (iequals_prefix(field, "transfer-encoding:")) {
            chunked = iequals_prefix(trim(field.substr(18)), "chunked");
        } else if (iequals_prefix(field, "content-encoding:")) {
            c.gzip = iequals_prefix(trim(field.substr(17)), "gzip");
        } else if (iequals_prefix(field, "expect:")) {
            expect_continue = iequals_prefix(trim(field.substr(7)), "100-continue");
        } else if (g_count_events && iequals_prefix(field, "x-launchdarkly-payload-id:")) {
            c.payload_id = trim(field.substr(26));
        } else if (iequals_prefix(field, "connection:")) {
            c.close_after = iequals_prefix(trim(field.substr(11)), "close");
        }
    }
    c.line.clear();
    c.body.clear();
    if (expect_continue) {
        c.out += k_continue;
    }
    if (chunked) {
        c.state = State::chunk_size;
    } else if (length > 0) {
        c.state = State::body_length;
        c.remaining = length;
    } else {
        finish_request(c);
    }
}

// Takes up to c.remaining bytes of body from `data`: kept when counting (false when the body is
// too large), otherwise counted and discarded.
bool take_body(Connection& c, std::string_view& data) {
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(c.remaining, data.size()));
    if (!g_count_events) {
        g_totals.body_bytes += n;
    } else if (c.body.size + n > k_max_body_bytes) {
        return false;
    } else {
        c.body.append(data.substr(0, n));
    }
    c.remaining -= n;
    data.remove_prefix(n);
    return true;
}

// Consumes bytes read from the connection; false on a protocol error (the connection is closed).
bool consume(Connection& c, std::string_view data) {
    while (!data.empty()) {
        switch (c.state) {
        case State::head: {
            const std::size_t searched = c.line.size() >= 3 ? c.line.size() - 3 : 0;
            c.line.append(data);
            const std::size_t end = c.line.find("\r\n\r\n", searched);
            if (end == std::string::npos) {
                return c.line.size() <= k_max_head_bytes;
            }
            const std::size_t rest = c.line.size() - (end + 4);
            data = data.substr(data.size() - rest);
            c.line.resize(end + 2);
            start_request(c);
            break;
        }
        case State::body_length:
            if (!take_body(c, data)) {
                return false;
            }
            if (c.remaining == 0) {
                finish_request(c);
            }
            break;
        case State::chunk_size:
        case State::trailers: {
            const std::size_t newline = data.find('\n');
            if (newline == std::string_view::npos) {
                c.line.append(data);
                return c.line.size() <= k_max_head_bytes;
            }
            c.line.append(data.substr(0, newline));
            data.remove_prefix(newline + 1);
            const std::string_view line = trim(c.line);
            if (c.state == State::trailers) {
                if (line.empty()) {
                    finish_request(c);
                }
                c.line.clear();
                break;
            }
            char* end = nullptr;
            const std::string size_text(line.substr(0, line.find(';')));
            const std::uint64_t size = std::strtoull(size_text.c_str(), &end, 16);
            if (size_text.empty() || end != size_text.c_str() + size_text.size()) {
                return false;
            }
            c.line.clear();
            c.remaining = size;
            c.state = size == 0 ? State::trailers : State::chunk_data;
            break;
        }
        case State::chunk_data:
            if (!take_body(c, data)) {
                return false;
            }
            if (c.remaining == 0) {
                c.state = State::chunk_data_end;
            }
            break;
        case State::chunk_data_end: {
            // The CRLF after a chunk's data (a bare LF is tolerated).
            const char ch = data.front();
            data.remove_prefix(1);
            if (ch == '\n') {
                c.state = State::chunk_size;
            } else if (ch != '\r') {
                return false;
            }
            break;
        }
        }
    }
    return true;
}

// Writes what is pending; false when the connection is to be closed.
bool flush_out(Connection& c) {
    while (!c.out.empty()) {
        const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
        c.out.erase(0, static_cast<std::size_t>(n));
    }
    return !c.closing;
}

void on_signal(int) {
    g_stop = 1;
}

} // namespace

int main(int argc, char** argv) {
    int port = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--port" && i + 1 < argc) {
            port = std::atoi(argv[++i]);
        } else if (arg == "--count-events") {
            g_count_events = true;
        } else if (arg == "--count-summary") {
            g_count_events = true;
            g_count_summary = true;
        } else if (arg == "--flap" && i + 1 < argc) {
            if (!parse_flap(argv[++i])) {
                std::fprintf(stderr,
                             "--flap: expected STATUS:SECONDS[,STATUS:SECONDS...], got '%s'\n",
                             argv[i]);
                return 64;
            }
        } else {
            std::fprintf(stderr,
                         "usage: %s [--port N] [--count-events] [--count-summary] "
                         "[--flap STATUS:SECONDS,...]\n",
                         argv[0]);
            return 64;
        }
    }
    struct sigaction action {};
    action.sa_handler = on_signal;
    ::sigaction(SIGTERM, &action, nullptr);
    ::sigaction(SIGINT, &action, nullptr);

    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener, 1024) != 0) {
        std::fprintf(stderr, "cannot listen on 127.0.0.1:%d: %s\n", port, std::strerror(errno));
        return 71;
    }
    socklen_t length = sizeof address;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
    g_flap_started = monotonic_seconds();
    std::printf("port=%d\n", ntohs(address.sin_port));
    std::fflush(stdout);

    const int epoll = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = listener;
    ::epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event);

    std::unordered_map<int, std::unique_ptr<Connection>> connections;
    const auto buffer = std::make_unique<char[]>(k_read_bytes);
    const auto close_connection = [&](int fd) {
        ::epoll_ctl(epoll, EPOLL_CTL_DEL, fd, nullptr);
        ::close(fd);
        connections.erase(fd);
    };
    epoll_event ready[64];
    while (g_stop == 0) {
        const int count = ::epoll_wait(epoll, ready, 64, 500);
        for (int i = 0; i < count; ++i) {
            const int fd = ready[i].data.fd;
            if (fd == listener) {
                for (;;) {
                    const int client =
                        ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (client < 0) {
                        break;
                    }
                    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    auto connection = std::make_unique<Connection>();
                    connection->fd = client;
                    epoll_event client_event{};
                    client_event.events = EPOLLIN | EPOLLRDHUP;
                    client_event.data.fd = client;
                    ::epoll_ctl(epoll, EPOLL_CTL_ADD, client, &client_event);
                    connections.emplace(client, std::move(connection));
                }
                continue;
            }
            auto found = connections.find(fd);
            if (found == connections.end()) {
                continue;
            }
            Connection& c = *found->second;
            bool keep = true;
            if ((ready[i].events & EPOLLOUT) != 0) {
                keep = flush_out(c);
            }
            if (keep && (ready[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
                // One read per wake-up keeps connections fair; level-triggered epoll calls back.
                // Counting, inside a Content-Length body: straight into the body (and no further).
                const bool in_body = g_count_events && c.state == State::body_length &&
                                     c.remaining > 0 &&
                                     c.body.size + c.remaining <= k_max_body_bytes;
                // Counting, between requests after a big body: only a head's worth.
                std::size_t want =
                    g_count_events && c.state == State::head && c.last_body_size > k_copy_body_bytes
                        ? k_head_read_bytes
                        : k_read_bytes;
                if (in_body) {
                    want = static_cast<std::size_t>(std::min<std::uint64_t>(c.remaining, want));
                }
                char* into = in_body ? c.body.tail(want) : buffer.get();
                const ssize_t n = ::recv(fd, into, want, 0);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                    keep = false;
                } else if (n > 0 && in_body) {
                    c.body.size += static_cast<std::size_t>(n);
                    c.remaining -= static_cast<std::uint64_t>(n);
                    if (c.remaining == 0) {
                        finish_request(c);
                    }
                    keep = flush_out(c);
                } else if (n > 0) {
                    keep =
                        consume(c, std::string_view(buffer.get(), static_cast<std::size_t>(n))) &&
                        flush_out(c);
                }
            }
            if (!keep) {
                close_connection(fd);
                continue;
            }
            if (c.watching_out == c.out.empty()) {
                c.watching_out = !c.out.empty();
                epoll_event update{};
                update.events = EPOLLIN | EPOLLRDHUP | (c.watching_out ? EPOLLOUT : 0u);
                update.data.fd = fd;
                ::epoll_ctl(epoll, EPOLL_CTL_MOD, fd, &update);
            }
        }
    }
    for (auto& [fd, connection] : connections) {
        ::close(fd);
    }
    std::fprintf(stderr, "bench_sink: %s", stats_line().c_str());
    return 0;
}
