#pragma once

#include <catch2/catch.hpp>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <memory>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace evrelay::test {

// Runs `body` (returning the child's exit status, 0 for what the test expects) in a forked
// child whose files may not grow beyond `max_file_bytes`: a full disk without root or a mount.
// SIGXFSZ is ignored so write(2) fails with EFBIG instead of killing the child, and the child's
// log goes nowhere (the expected write errors would clutter the test output). The child must
// not return into Catch: `body` reports through its status (or files), never with REQUIRE.
// Returns the child's exit status; 91: setrlimit failed, 92: `body` threw.
template <class Body> int run_with_file_size_limit(rlim_t max_file_bytes, Body&& body) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int status = 90;
        try {
            std::signal(SIGXFSZ, SIG_IGN);
            const rlimit limit{max_file_bytes, max_file_bytes};
            if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) {
                ::_exit(91);
            }
            spdlog::set_default_logger(std::make_shared<spdlog::logger>(
                "file-size-limited-child", std::make_shared<spdlog::sinks::null_sink_mt>()));
            status = body();
        } catch (...) {
            status = 92;
        }
        ::_exit(status);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    return WEXITSTATUS(status);
}

} // namespace evrelay::test
