#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace evrelay::test {

// Runs a program (normally the built evrelay) with arguments, optional stdin data and extra
// environment variables; captures stdout and stderr. Every wait is bounded; the destructor
// kills (SIGKILL) and reaps a child that is still running, so no test leaves a process behind.
// The child runs in its own process group. The constructor throws std::runtime_error when the
// program cannot be started (not found, not executable, bad working_dir).
class ChildProcess {
  public:
    struct Options {
        // The `{}` initializers let callers write `{.args = {...}}` or `{{"prog", "arg"}}`
        // without -Wmissing-field-initializers (an error under -Werror).
        std::vector<std::string> args{};          // args[0] is the program path (or a name
                                                  // looked up in PATH)
        std::optional<std::string> stdin_data{};  // written then closed; none = /dev/null
        std::map<std::string, std::string> env{}; // added to (or replacing in) the environment
        std::vector<std::string>
            unset_env{};           // removed from the environment before `env` is applied
        std::string working_dir{}; // empty = the current directory
        // RLIMIT_FSIZE for the child: writes past this many bytes of any file fail with EFBIG,
        // a full disk that needs neither root nor a mount.
        std::optional<unsigned long> file_size_limit{};
    };

    explicit ChildProcess(Options options); // starts the process
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    int pid() const { return m_pid; }
    // Sends `signal` to the child only (not to its process group).
    void send_signal(int signal);
    // SIGKILLs the child's process group (the child and anything it started) and reaps it.
    void kill();
    // Waits for exit; returns the exit status (128+signal when killed), or nullopt on timeout.
    // Once it returns a status, stdout_text()/stderr_text() hold the complete output.
    std::optional<int> wait(std::chrono::milliseconds timeout);
    bool running();

    // Everything printed so far (drained by a reader thread).
    std::string stdout_text() const;
    std::string stderr_text() const;

  private:
    struct Pipes;
    int m_pid = -1;
    std::optional<int> m_status;
    std::unique_ptr<Pipes> m_pipes;
};

// Runs to completion (bounded by `timeout`, then killed) and returns status and output.
struct RunResult {
    int status = -1;
    std::string out;
    std::string err;
};
RunResult run_process(ChildProcess::Options options,
                      std::chrono::milliseconds timeout = std::chrono::seconds(60));

} // namespace evrelay::test
