// evrelay: accept, buffer, batch and forward LaunchDarkly analytics events.
// main() parses the command line, sets up logging and runs one subcommand; it is the only place
// that turns exceptions into exit statuses (SPEC §10).
#include "common_options.hpp"
#include "exit_status.hpp"
#include "flush.hpp"
#include "logging_setup.hpp"
#include "replay.hpp"
#include "serve.hpp"
#include "signal_watcher.hpp"

#include <CLI/CLI.hpp>
#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <malloc.h>
#include <thread>

namespace {

int run_main(int argc, char** argv) {
    using namespace evrelay;
    // Before any thread exists: signals are taken by a SignalWatcher, never by a worker.
    block_handled_signals();
    // A file-size limit (ulimit -f) must make a spool or capture write fail with EFBIG — handled
    // like a full disk — rather than kill the process with SIGXFSZ.
    std::signal(SIGXFSZ, SIG_IGN);
    // Payload bodies (up to --batch-bytes, 4 MiB) are allocated and freed all the time; above
    // glibc's default mmap threshold each one would be a fresh mmap and page faults on every
    // byte (measured: ~10% of replay's time). Memory is bounded by --max-pending either way.
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 128 << 20);
    // glibc gives each thread that meets a locked arena a new one, up to 8 per core; the free
    // memory of one arena cannot serve another, so a serve's resident set climbed for minutes
    // after its load was steady. One arena per core keeps contention where it was (no more
    // threads run at once) and took 10 minutes of the soak from +9.8 % to +6.6 %, 20 % lower
    // (bench/README.md, "Soak"). MALLOC_ARENA_MAX or GLIBC_TUNABLES still decide when set.
    if (std::getenv("MALLOC_ARENA_MAX") == nullptr && std::getenv("GLIBC_TUNABLES") == nullptr) {
        mallopt(M_ARENA_MAX, static_cast<int>(std::max(2u, std::thread::hardware_concurrency())));
    }

    CLI::App app(
        "evrelay " EVRELAY_VERSION
        " — forward LaunchDarkly analytics events: replay captures, serve SDKs, flush a spool");
    app.set_version_flag("--version", "evrelay " EVRELAY_VERSION);
    app.require_subcommand(1);
    std::string log_level = "info";
    std::string log_format = "text";
    app.add_option("--log-level", log_level,
                   "debug, info, warn or error (default info); before or after the command")
        ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
    app.add_option("--log-format", log_format,
                   "text or json (default text); before or after the command")
        ->check(CLI::IsMember({"text", "json"}));
    // Global options may follow the subcommand too (`evrelay serve --log-level debug`, as users
    // type it): an option a subcommand does not know falls through to here. Subcommands
    // created after this inherit the setting.
    app.fallthrough();

    ReplayOptions replay_options;
    add_replay_command(app, replay_options);
    ServeOptions serve_options;
    add_serve_command(app, serve_options);
    FlushOptions flush_options;
    add_flush_command(app, flush_options);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        const int status = app.exit(error);
        // CLI11 returns 0 for --help/--version; everything else is a usage error.
        return status == 0 ? exit_status::ok : exit_status::usage;
    }

    try {
        setup_logging(log_level, log_format);
        // The one curl_global_init of the program, here rather than in the Sender: libcurl wants
        // it called before any other thread exists (it is thread-safe only in builds with
        // CURL_VERSION_THREADSAFE), which only main() can promise; paired with the cleanup below.
        curl_global_init(CURL_GLOBAL_DEFAULT);
        int status = exit_status::other;
        if (app.got_subcommand("replay")) {
            status = run_replay(replay_options);
        } else if (app.got_subcommand("serve")) {
            status = run_serve(serve_options);
        } else if (app.got_subcommand("flush")) {
            status = run_flush(flush_options);
        }
        curl_global_cleanup();
        return status;
    } catch (const ConfigError& error) {
        std::fprintf(stderr, "evrelay: error: %s\n", error.what());
        return exit_status::config;
    } catch (const CLI::ValidationError& error) {
        std::fprintf(stderr, "evrelay: error: %s\n", error.what());
        return exit_status::usage;
    } catch (const std::exception& error) {
        // A broken invariant: say what it was rather than abort with a core dump.
        std::fprintf(stderr, "evrelay: internal error: %s\n", error.what());
        return exit_status::other;
    }
}

} // namespace

// Everything that can throw, CLI11's own set-up included, runs inside run_main(); what it did not
// turn into an exit status is a broken invariant, reported here rather than as an abort.
int main(int argc, char** argv) {
    try {
        return run_main(argc, argv);
    } catch (const std::exception& error) {
        std::fprintf(stderr, "evrelay: internal error: %s\n", error.what());
    } catch (...) {
        std::fprintf(stderr, "evrelay: internal error: unknown exception\n");
    }
    return evrelay::exit_status::other;
}
