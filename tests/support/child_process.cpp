#include "tests/support/child_process.hpp"

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <poll.h>
#include <stdexcept>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>

extern char** environ;

namespace evrelay::test {

namespace {

// After the child exits, how long its output may take to reach EOF. Only a grandchild that
// inherited the pipes can make it longer, and then we stop waiting rather than hang.
constexpr auto k_drain_after_exit = std::chrono::seconds(2);
// How often the I/O threads look at their stop flag.
constexpr int k_poll_ms = 50;
constexpr auto k_wait_step = std::chrono::milliseconds(5);

int decode_status(int raw) {
    if (WIFEXITED(raw)) {
        return WEXITSTATUS(raw);
    }
    if (WIFSIGNALED(raw)) {
        return 128 + WTERMSIG(raw);
    }
    return -1;
}

void close_fd(int& fd) {
    if (fd >= 0) {
        ::close(fd);
        fd = -1;
    }
}

// Closes both ends unless adopted; keeps the constructor's error paths leak-free.
struct Pipe {
    int read = -1;
    int write = -1;
    Pipe() {
        int fds[2];
        // CLOEXEC: a child spawned concurrently by another thread must not inherit our ends
        // (it would hold the pipe open and our reader would never see EOF).
        if (::pipe2(fds, O_CLOEXEC) != 0) {
            throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
        }
        read = fds[0];
        write = fds[1];
    }
    ~Pipe() {
        close_fd(read);
        close_fd(write);
    }
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;
    int take_read() { return std::exchange(read, -1); }
    int take_write() { return std::exchange(write, -1); }
};

std::map<std::string, std::string> build_env(const ChildProcess::Options& options) {
    std::map<std::string, std::string> env;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        std::string text(*entry);
        auto eq = text.find('=');
        if (eq != std::string::npos) {
            env[text.substr(0, eq)] = text.substr(eq + 1);
        }
    }
    // Unset first: a test removes what the developer's shell may hold, then sets what it means.
    for (const auto& key : options.unset_env) {
        env.erase(key);
    }
    for (const auto& [key, value] : options.env) {
        env[key] = value;
    }
    return env;
}

// execve does not search PATH, and execvp is not safe between fork and exec in a threaded
// process, so resolve the program here.
std::string resolve_program(const std::string& program,
                            const std::map<std::string, std::string>& env) {
    if (program.find('/') != std::string::npos) {
        return program;
    }
    auto path_it = env.find("PATH");
    std::string path = path_it != env.end() ? path_it->second : "/usr/bin:/bin";
    std::size_t start = 0;
    while (start <= path.size()) {
        std::size_t end = path.find(':', start);
        if (end == std::string::npos) {
            end = path.size();
        }
        std::string dir = path.substr(start, end - start);
        std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + program;
        if (::access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
        start = end + 1;
    }
    return program;
}

} // namespace

struct ChildProcess::Pipes {
    int stdin_fd = -1;
    int stdout_fd = -1;
    int stderr_fd = -1;
    std::string stdin_data;

    mutable std::mutex mutex;
    std::condition_variable drained_changed;
    std::string out;
    std::string err;
    bool drained = false;
    std::atomic<bool> stop{false};

    std::thread reader;
    std::thread writer;

    void read_loop();
    void write_loop();
    // Waits (bounded) until stdout and stderr reached EOF.
    bool wait_drained(std::chrono::milliseconds timeout);
};

void ChildProcess::Pipes::read_loop() {
    char buf[16 * 1024];
    while (!stop.load() && (stdout_fd >= 0 || stderr_fd >= 0)) {
        pollfd fds[2] = {{stdout_fd, POLLIN, 0}, {stderr_fd, POLLIN, 0}};
        int ready = ::poll(fds, 2, k_poll_ms);
        if (ready < 0 && errno != EINTR) {
            break;
        }
        for (int i = 0; i < 2 && ready > 0; ++i) {
            if (fds[i].fd < 0 || fds[i].revents == 0) {
                continue;
            }
            ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                close_fd(i == 0 ? stdout_fd : stderr_fd);
                continue;
            }
            std::lock_guard lock(mutex);
            (i == 0 ? out : err).append(buf, static_cast<std::size_t>(n));
        }
    }
    std::lock_guard lock(mutex);
    drained = stdout_fd < 0 && stderr_fd < 0;
    drained_changed.notify_all();
}

void ChildProcess::Pipes::write_loop() {
    // A child that exits without reading its input must give us EPIPE, not kill the test
    // process with SIGPIPE. The signal is thread-directed, so blocking it here is enough.
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, nullptr);

    std::size_t written = 0;
    while (!stop.load() && written < stdin_data.size()) {
        pollfd pfd{stdin_fd, POLLOUT, 0};
        int ready = ::poll(&pfd, 1, k_poll_ms);
        if (ready < 0 && errno != EINTR) {
            break;
        }
        if (ready <= 0) {
            continue;
        }
        ssize_t n = ::write(stdin_fd, stdin_data.data() + written, stdin_data.size() - written);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            break; // EPIPE: the child closed its stdin
        }
        written += static_cast<std::size_t>(n);
    }
    close_fd(stdin_fd);
}

bool ChildProcess::Pipes::wait_drained(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex);
    return drained_changed.wait_for(lock, timeout, [this] { return drained; });
}

ChildProcess::ChildProcess(Options options) : m_pipes(std::make_unique<Pipes>()) {
    if (options.args.empty()) {
        throw std::invalid_argument("ChildProcess: no program given");
    }
    // Everything the child needs is prepared before fork: between fork and exec a threaded
    // process may only call async-signal-safe functions (no allocation).
    auto env = build_env(options);
    std::string program = resolve_program(options.args[0], env);
    std::vector<std::string> env_strings;
    env_strings.reserve(env.size());
    for (const auto& [key, value] : env) {
        std::string& entry = env_strings.emplace_back(key);
        entry += '=';
        entry += value;
    }
    std::vector<char*> argv;
    argv.reserve(options.args.size() + 1);
    for (auto& arg : options.args) {
        argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    std::vector<char*> envp;
    envp.reserve(env_strings.size() + 1);
    for (auto& entry : env_strings) {
        envp.push_back(entry.data());
    }
    envp.push_back(nullptr);
    const char* working_dir = options.working_dir.empty() ? nullptr : options.working_dir.c_str();

    std::optional<Pipe> in;
    int null_fd = -1;
    if (options.stdin_data) {
        in.emplace();
    } else {
        null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd < 0) {
            throw std::runtime_error(std::string("open /dev/null: ") + std::strerror(errno));
        }
    }
    Pipe out;
    Pipe err;
    Pipe exec_error; // carries errno when exec fails; EOF (CLOEXEC) when it succeeds
    int child_stdin = in ? in->read : null_fd;

    const std::optional<unsigned long> file_size_limit = options.file_size_limit;
    pid_t pid = ::fork();
    if (pid < 0) {
        int error = errno;
        close_fd(null_fd);
        throw std::runtime_error(std::string("fork: ") + std::strerror(error));
    }
    if (pid == 0) {
        // Own process group, so a timeout kill also reaches grandchildren (e.g. a shell's).
        ::setpgid(0, 0);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::signal(SIGPIPE, SIG_DFL);
        if (file_size_limit) {
            struct rlimit limit {};
            limit.rlim_cur = *file_size_limit;
            limit.rlim_max = *file_size_limit;
            ::setrlimit(RLIMIT_FSIZE, &limit);
        }
        if (::dup2(child_stdin, 0) < 0 || ::dup2(out.write, 1) < 0 || ::dup2(err.write, 2) < 0 ||
            (working_dir != nullptr && ::chdir(working_dir) != 0)) {
            int error = errno;
            [[maybe_unused]] auto ignored = ::write(exec_error.write, &error, sizeof error);
            ::_exit(127);
        }
        ::execve(program.c_str(), argv.data(), envp.data());
        int error = errno;
        [[maybe_unused]] auto ignored = ::write(exec_error.write, &error, sizeof error);
        ::_exit(127);
    }

    m_pid = pid;
    ::setpgid(pid, pid); // also here: whichever runs first wins the race harmlessly
    close_fd(null_fd);
    if (in) {
        close_fd(in->read);
    }
    close_fd(out.write);
    close_fd(err.write);
    close_fd(exec_error.write);

    int exec_errno = 0;
    ssize_t n;
    do {
        n = ::read(exec_error.read, &exec_errno, sizeof exec_errno);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        int raw = 0;
        ::waitpid(pid, &raw, 0);
        m_status = decode_status(raw);
        throw std::runtime_error("ChildProcess: cannot start " + program +
                                 (working_dir != nullptr ? " in " + options.working_dir : "") +
                                 ": " + std::strerror(exec_errno));
    }

    auto& pipes = *m_pipes;
    pipes.stdout_fd = out.take_read();
    pipes.stderr_fd = err.take_read();
    pipes.reader = std::thread([&pipes] { pipes.read_loop(); });
    if (in) {
        pipes.stdin_fd = in->take_write();
        pipes.stdin_data = std::move(*options.stdin_data);
        ::fcntl(pipes.stdin_fd, F_SETFL, ::fcntl(pipes.stdin_fd, F_GETFL) | O_NONBLOCK);
        pipes.writer = std::thread([&pipes] { pipes.write_loop(); });
    }
}

ChildProcess::~ChildProcess() {
    if (m_pid > 0 && !m_status) {
        kill();
    }
    auto& pipes = *m_pipes;
    pipes.wait_drained(k_drain_after_exit);
    pipes.stop = true;
    if (pipes.reader.joinable()) {
        pipes.reader.join();
    }
    if (pipes.writer.joinable()) {
        pipes.writer.join();
    }
    close_fd(pipes.stdout_fd);
    close_fd(pipes.stderr_fd);
    close_fd(pipes.stdin_fd);
}

void ChildProcess::send_signal(int signal) {
    if (m_pid > 0 && !m_status) {
        ::kill(m_pid, signal);
    }
}

void ChildProcess::kill() {
    if (m_pid <= 0 || m_status) {
        return;
    }
    ::kill(-m_pid, SIGKILL);
    ::kill(m_pid, SIGKILL);
    int raw = 0;
    pid_t r;
    do {
        r = ::waitpid(m_pid, &raw, 0);
    } while (r < 0 && errno == EINTR);
    m_status = r == m_pid ? decode_status(raw) : 128 + SIGKILL;
    m_pipes->wait_drained(k_drain_after_exit);
}

std::optional<int> ChildProcess::wait(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (!running()) {
            return m_status;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return std::nullopt;
        }
        std::this_thread::sleep_for(k_wait_step);
    }
}

bool ChildProcess::running() {
    if (m_pid <= 0 || m_status) {
        return false;
    }
    int raw = 0;
    pid_t r = ::waitpid(m_pid, &raw, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR)) {
        return true;
    }
    // r < 0 (ECHILD) means someone else reaped it: report it as gone rather than spin.
    m_status = r == m_pid ? decode_status(raw) : -1;
    // Callers read the output right after the exit; let the reader reach EOF first.
    m_pipes->wait_drained(k_drain_after_exit);
    return false;
}

std::string ChildProcess::stdout_text() const {
    std::lock_guard lock(m_pipes->mutex);
    return m_pipes->out;
}

std::string ChildProcess::stderr_text() const {
    std::lock_guard lock(m_pipes->mutex);
    return m_pipes->err;
}

RunResult run_process(ChildProcess::Options options, std::chrono::milliseconds timeout) {
    ChildProcess child(std::move(options));
    std::optional<int> status = child.wait(timeout);
    RunResult result;
    if (!status) {
        child.kill();
        result.status = -1;
        result.out = child.stdout_text();
        result.err = child.stderr_text() + "\n[run_process: timed out after " +
                     std::to_string(timeout.count()) + " ms; killed with SIGKILL]\n";
        return result;
    }
    result.status = *status;
    result.out = child.stdout_text();
    result.err = child.stderr_text();
    return result;
}

} // namespace evrelay::test
