// How fast libdeflate alone (through util::GzipCompressor, as the sender uses it) compresses the
// payload bodies a replay of FILE would send: events re-batched 1000 per "[e1,…]" body, as the
// publisher cuts them. Single thread; only compress() calls are timed, so reading and batching
// do not count. This is the ceiling the gzip-on replay is compared with.
//
//   bench_deflate [--level N] [--batch-size N] [--max-mb N] FILE
//
// FILE is an evrelay-capture/1 file or NDJSON (one event per line); detected per line.

#include "bench/tools/bench_events.hpp"

#include "core/util/gzip.hpp"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <time.h>
#include <vector>

namespace {

constexpr std::size_t k_read_bytes = 16u << 20;
constexpr std::size_t k_batch_bytes = 4u << 20; // PublisherOptions::batch_bytes default

struct Options {
    std::string file;
    int level = 6;
    std::size_t batch_size = 1000;
    std::size_t max_megabytes = 0; // 0: the whole file
};

bool parse_options(int argc, char** argv, Options& options) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const bool has_value = i + 1 < argc;
        if (arg == "--level" && has_value) {
            options.level = std::atoi(argv[++i]);
        } else if (arg == "--batch-size" && has_value) {
            options.batch_size = std::strtoull(argv[++i], nullptr, 10);
        } else if (arg == "--max-mb" && has_value) {
            options.max_megabytes = std::strtoull(argv[++i], nullptr, 10);
        } else if (!arg.empty() && arg[0] != '-' && options.file.empty()) {
            options.file = arg;
        } else {
            return false;
        }
    }
    return !options.file.empty() && options.level >= 1 && options.level <= 12 &&
           options.batch_size > 0;
}

// CPU time of this thread: on a machine shared with other work the wall time of compress()
// includes time the thread waited for a core; both are reported.
double thread_cpu_seconds() {
    timespec now{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

class BodyCompressor {
  public:
    BodyCompressor(int level, std::size_t batch_size) : m_gzip(level), m_batch_size(batch_size) {
        m_body.reserve(k_batch_bytes + (1u << 20));
    }

    void add(std::string_view event) {
        if (m_events != 0 &&
            (m_events == m_batch_size || m_body.size() + event.size() + 2 > k_batch_bytes)) {
            cut();
        }
        m_body.push_back(m_events == 0 ? '[' : ',');
        m_body.append(event);
        ++m_events;
        ++m_total_events;
        m_event_bytes += event.size();
    }

    void cut() {
        if (m_events == 0) {
            return;
        }
        m_body.push_back(']');
        const auto start = std::chrono::steady_clock::now();
        const double cpu_start = thread_cpu_seconds();
        m_gzip.compress(m_body, m_compressed);
        m_cpu_seconds += thread_cpu_seconds() - cpu_start;
        m_seconds +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        m_input_bytes += m_body.size();
        m_output_bytes += m_compressed.size();
        ++m_bodies;
        m_body.clear();
        m_events = 0;
    }

    double seconds() const { return m_seconds; }
    double cpu_seconds() const { return m_cpu_seconds; }
    std::uint64_t input_bytes() const { return m_input_bytes; }
    std::uint64_t output_bytes() const { return m_output_bytes; }
    std::uint64_t bodies() const { return m_bodies; }
    std::uint64_t events() const { return m_total_events; }
    std::uint64_t event_bytes() const { return m_event_bytes; }

  private:
    evrelay::util::GzipCompressor m_gzip;
    std::size_t m_batch_size;
    std::string m_body;
    std::string m_compressed;
    std::size_t m_events = 0;
    double m_seconds = 0;
    double m_cpu_seconds = 0;
    std::uint64_t m_input_bytes = 0;
    std::uint64_t m_output_bytes = 0;
    std::uint64_t m_bodies = 0;
    std::uint64_t m_total_events = 0;
    std::uint64_t m_event_bytes = 0;
};

void add_line(std::string_view line, BodyCompressor& compressor,
              std::vector<std::string_view>& events) {
    if (line.empty()) {
        return;
    }
    const std::string_view array = evrelay::bench::capture_line_events(line);
    if (array.empty()) {
        compressor.add(line); // NDJSON: the line is the event
        return;
    }
    if (evrelay::bench::split_array(array, events)) {
        for (std::string_view event : events) {
            compressor.add(event);
        }
    }
}

} // namespace

int main(int argc, char** argv) {
    Options options;
    if (!parse_options(argc, argv, options)) {
        std::fprintf(stderr, "usage: %s [--level 1-12] [--batch-size N] [--max-mb N] FILE\n",
                     argv[0]);
        return 64;
    }
    std::FILE* in = std::fopen(options.file.c_str(), "rb");
    if (in == nullptr) {
        std::fprintf(stderr, "cannot open %s: %s\n", options.file.c_str(), std::strerror(errno));
        return 66;
    }
    BodyCompressor compressor(options.level, options.batch_size);
    std::vector<std::string_view> events;
    std::string buffer;
    std::size_t filled = 0;
    std::uint64_t read_total = 0;
    const std::uint64_t limit = static_cast<std::uint64_t>(options.max_megabytes) << 20;
    for (;;) {
        if (buffer.size() < filled + k_read_bytes) {
            buffer.resize(filled + k_read_bytes);
        }
        const std::size_t n = std::fread(buffer.data() + filled, 1, k_read_bytes, in);
        filled += n;
        read_total += n;
        const bool at_end = n == 0 || (limit != 0 && read_total >= limit);
        const std::string_view data(buffer.data(), filled);
        std::size_t begin = 0;
        for (;;) {
            const std::size_t newline = data.find('\n', begin);
            if (newline == std::string_view::npos) {
                break;
            }
            add_line(data.substr(begin, newline - begin), compressor, events);
            begin = newline + 1;
        }
        if (at_end) {
            break; // a partial last line (or the rest after --max-mb) is left out
        }
        std::memmove(buffer.data(), buffer.data() + begin, filled - begin);
        filled -= begin;
    }
    std::fclose(in);
    compressor.cut();

    const double mb = static_cast<double>(compressor.input_bytes()) / 1e6;
    const double seconds = compressor.seconds();
    std::printf("deflate_level=%d\n", options.level);
    std::printf("deflate_bodies=%llu\n", static_cast<unsigned long long>(compressor.bodies()));
    std::printf("deflate_events=%llu\n", static_cast<unsigned long long>(compressor.events()));
    std::printf("deflate_input_bytes=%llu\n",
                static_cast<unsigned long long>(compressor.input_bytes()));
    std::printf("deflate_output_bytes=%llu\n",
                static_cast<unsigned long long>(compressor.output_bytes()));
    std::printf("deflate_ratio=%.3f\n", compressor.input_bytes() == 0
                                            ? 0.0
                                            : static_cast<double>(compressor.output_bytes()) /
                                                  static_cast<double>(compressor.input_bytes()));
    std::printf("deflate_seconds=%.3f\n", seconds);
    std::printf("deflate_mb_per_s=%.1f\n", seconds > 0 ? mb / seconds : 0.0);
    std::printf("deflate_events_per_s=%.0f\n",
                seconds > 0 ? static_cast<double>(compressor.events()) / seconds : 0.0);
    const double cpu = compressor.cpu_seconds();
    std::printf("deflate_cpu_seconds=%.3f\n", cpu);
    std::printf("deflate_mb_per_cpu_s=%.1f\n", cpu > 0 ? mb / cpu : 0.0);
    std::printf("deflate_events_per_cpu_s=%.0f\n",
                cpu > 0 ? static_cast<double>(compressor.events()) / cpu : 0.0);
    return 0;
}
