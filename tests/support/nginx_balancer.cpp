#include "tests/support/nginx_balancer.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <netinet/in.h>
#include <stdexcept>
#include <string_view>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace evrelay::test {

namespace {

// nginx needs its port in the config: take one that was free a moment ago, and try again with
// another when nginx finds it taken after all.
std::uint16_t unused_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        throw std::runtime_error("socket: cannot create");
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    const bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0 &&
                    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
    ::close(fd);
    if (!ok) {
        throw std::runtime_error("cannot find a free port on 127.0.0.1");
    }
    return ntohs(address.sin_port);
}

bool accepts_connections(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    const bool connected =
        ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return connected;
}

// Bodies stay in memory (client_body_buffer_size): run as root, nginx's workers become `nobody`,
// who may not write into the scratch directory.
constexpr std::string_view k_config_template = R"(worker_processes 1;
pid @DIR@/nginx.pid;
error_log @DIR@/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_max_body_size 0;
    client_body_buffer_size 1m;
    client_body_temp_path @DIR@/body;
    proxy_temp_path @DIR@/proxy;
    fastcgi_temp_path @DIR@/fastcgi;
    uwsgi_temp_path @DIR@/uwsgi;
    scgi_temp_path @DIR@/scgi;
    upstream evrelay {
@SERVERS@    }
    server {
        listen 127.0.0.1:@PORT@;
        location / {
            proxy_pass http://evrelay;
            proxy_connect_timeout 2s;
            proxy_read_timeout 15s;
        }
    }
}
)";

void replace_all(std::string& text, std::string_view placeholder, const std::string& value) {
    for (std::size_t at = text.find(placeholder); at != std::string::npos;
         at = text.find(placeholder, at + value.size())) {
        text.replace(at, placeholder.size(), value);
    }
}

std::string config_text(const std::filesystem::path& dir, std::uint16_t port,
                        const std::vector<std::uint16_t>& backends) {
    std::string servers;
    for (const std::uint16_t backend : backends) {
        servers += "        server 127.0.0.1:" + std::to_string(backend) +
                   " max_fails=1 fail_timeout=1s;\n";
    }
    std::string text(k_config_template);
    replace_all(text, "@DIR@", dir.string());
    replace_all(text, "@PORT@", std::to_string(port));
    replace_all(text, "@SERVERS@", servers);
    return text;
}

} // namespace

std::string find_nginx() {
    std::string path = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
    path += ":/usr/sbin:/usr/local/sbin:/sbin";
    std::size_t start = 0;
    while (start <= path.size()) {
        std::size_t end = path.find(':', start);
        if (end == std::string::npos) {
            end = path.size();
        }
        const std::string dir = path.substr(start, end - start);
        if (!dir.empty()) {
            std::string candidate = dir + "/nginx";
            if (::access(candidate.c_str(), X_OK) == 0) {
                return candidate;
            }
        }
        start = end + 1;
    }
    return {};
}

NginxBalancer::NginxBalancer(const std::vector<std::uint16_t>& backends) {
    const std::string nginx = find_nginx();
    if (nginx.empty()) {
        throw std::runtime_error("nginx is not installed (Debian: apt-get install nginx-light; "
                                 "`make deps` installs it)");
    }
    const std::filesystem::path config = m_dir / "nginx.conf";
    std::string failures;
    for (int attempt = 0; attempt < 3; ++attempt) {
        m_port = unused_port();
        m_dir.write("nginx.conf", config_text(m_dir.path(), m_port, backends));
        m_process = std::make_unique<ChildProcess>(ChildProcess::Options{
            .args = {nginx, "-p", m_dir.path().string(), "-c", config.string(), "-e",
                     (m_dir / "error.log").string(), "-g", "daemon off;"}});
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < deadline && m_process->running()) {
            if (accepts_connections(m_port)) {
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        m_process->kill();
        failures += "attempt on port " + std::to_string(m_port) + ": " + m_process->stderr_text() +
                    error_log() + "\n";
    }
    throw std::runtime_error("nginx did not start:\n" + failures);
}

NginxBalancer::~NginxBalancer() {
    if (m_process && m_process->running()) {
        m_process->send_signal(SIGQUIT); // graceful: the master stops its workers
        if (!m_process->wait(std::chrono::seconds(5))) {
            m_process->kill();
        }
    }
}

std::string NginxBalancer::error_log() const {
    std::error_code ignored;
    if (!std::filesystem::exists(m_dir / "error.log", ignored)) {
        return {};
    }
    return read_file(m_dir / "error.log");
}

} // namespace evrelay::test
