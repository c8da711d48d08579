// Writes a large input for `evrelay replay`: evrelay-capture/1 lines (one per 50-event SDK post)
// or, with --ndjson, one event per line. The events have the shapes and sizes of
// tests/fixtures/bench-payload-50-events.json, made distinct per post (bench_events.hpp).
//
//   bench_gen_capture --out FILE --mb N [--ndjson] [--fixture PATH]
//
// Prints "events=… bytes=… event_bytes=… lines=…" on stdout so the caller knows the exact count.

#include "bench/tools/bench_events.hpp"

#include "core/model/capture_record.hpp"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <string_view>
#include <unistd.h>

namespace {

constexpr std::size_t k_flush_bytes = 8u << 20; // one write() per 8 MB

struct Options {
    std::string out;
    std::string fixture{evrelay::bench::k_default_fixture};
    std::size_t megabytes = 1024;
    bool ndjson = false;
};

bool parse_options(int argc, char** argv, Options& options) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const bool has_value = i + 1 < argc;
        if (arg == "--out" && has_value) {
            options.out = argv[++i];
        } else if (arg == "--mb" && has_value) {
            options.megabytes = std::strtoull(argv[++i], nullptr, 10);
        } else if (arg == "--fixture" && has_value) {
            options.fixture = argv[++i];
        } else if (arg == "--ndjson") {
            options.ndjson = true;
        } else {
            return false;
        }
    }
    return !options.out.empty() && options.megabytes > 0;
}

bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

// A payload ID that looks like the SDKs' (random v4 UUID), derived from the round so that
// regenerating the capture gives the same file.
std::string payload_id_for(std::uint64_t round) {
    std::string id = "xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx";
    const std::uint64_t a = evrelay::bench::mix64(round * 2 + 1);
    const std::uint64_t b = evrelay::bench::mix64(round * 2 + 2);
    evrelay::bench::write_hex(id.data(), a >> 32, 8);
    evrelay::bench::write_hex(id.data() + 9, a >> 16, 4);
    evrelay::bench::write_hex(id.data() + 15, a, 3);
    evrelay::bench::write_hex(id.data() + 20, b >> 52, 3);
    evrelay::bench::write_hex(id.data() + 24, b, 12);
    return id;
}

} // namespace

int main(int argc, char** argv) {
    Options options;
    if (!parse_options(argc, argv, options)) {
        std::fprintf(stderr,
                     "usage: %s --out FILE --mb N [--ndjson] [--fixture PATH]\n"
                     "  Writes about N MB (MiB) of capture lines, or NDJSON events.\n",
                     argv[0]);
        return 64;
    }
    auto events = evrelay::bench::RealisticEvents::load(options.fixture);
    if (!events) {
        std::fprintf(stderr, "cannot read or split the fixture %s\n", options.fixture.c_str());
        return 66;
    }
    const int fd = ::open(options.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        std::fprintf(stderr, "cannot create %s: %s\n", options.out.c_str(), std::strerror(errno));
        return 73;
    }

    // The metadata variants of one environment: schema 4 with two tag values, as two services
    // of one project would send them. Each variant becomes its own publisher queue.
    const evrelay::PayloadMetadata variants[] = {
        {4, "application-id/web-checkout application-version/4.18.2"},
        {4, "application-id/order-service application-version/2.3.0"},
    };
    const auto start =
        std::chrono::system_clock::time_point{std::chrono::milliseconds{1'700'000'000'000}};

    const std::uint64_t target = static_cast<std::uint64_t>(options.megabytes) << 20;
    std::uint64_t written = 0;
    std::uint64_t event_count = 0;
    std::uint64_t event_bytes = 0;
    std::uint64_t lines = 0;
    std::string buffer;
    buffer.reserve(k_flush_bytes + (1u << 20));
    std::string array;
    const std::size_t round_bytes = events->round_event_bytes();

    for (std::uint64_t round = 0; written + buffer.size() < target; ++round) {
        if (options.ndjson) {
            events->append_round(round, buffer, '\n');
            buffer.push_back('\n');
            lines += events->template_count();
        } else {
            array.clear();
            array.push_back('[');
            events->append_round(round, array, ',');
            array.push_back(']');
            evrelay::CaptureRecord record;
            record.received = start + std::chrono::milliseconds{round * 60'000 + 59'000};
            record.env_name = "production";
            record.sdk = evrelay::SdkKind::server;
            record.kind = evrelay::DataKind::analytics;
            record.metadata = variants[evrelay::bench::mix64(round) % 2];
            record.payload_id = payload_id_for(round);
            record.events_json = array;
            evrelay::append_capture_line(buffer, record);
            ++lines;
        }
        event_count += events->template_count();
        event_bytes += round_bytes;
        if (buffer.size() >= k_flush_bytes) {
            if (!write_all(fd, buffer)) {
                std::fprintf(stderr, "write %s: %s\n", options.out.c_str(), std::strerror(errno));
                return 74;
            }
            written += buffer.size();
            buffer.clear();
        }
    }
    if (!write_all(fd, buffer) || ::close(fd) != 0) {
        std::fprintf(stderr, "write %s: %s\n", options.out.c_str(), std::strerror(errno));
        return 74;
    }
    written += buffer.size();
    std::printf(
        "events=%llu bytes=%llu event_bytes=%llu lines=%llu\n",
        static_cast<unsigned long long>(event_count), static_cast<unsigned long long>(written),
        static_cast<unsigned long long>(event_bytes), static_cast<unsigned long long>(lines));
    return 0;
}
