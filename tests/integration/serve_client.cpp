#include "serve_client.hpp"

#include "core/util/gzip.hpp"

#include <catch2/catch.hpp>
#include <curl/curl.h>

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace evrelay::test {

namespace {

std::size_t collect_body(char* data, std::size_t size, std::size_t count, void* user) {
    static_cast<std::string*>(user)->append(data, size * count);
    return size * count;
}

std::size_t collect_header(char* data, std::size_t size, std::size_t count, void* user) {
    std::string line(data, size * count);
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& c : name) {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        value.erase(value.find_last_not_of("\r\n") + 1);
        static_cast<ClientResponse*>(user)->headers.emplace_back(name, value);
    }
    return size * count;
}

// Feeds a chunked upload: each call returns at most `chunk` bytes, and curl sends every call's
// bytes as one chunk.
struct UploadSource {
    std::string_view data;
    std::size_t chunk = 64;
};

std::size_t read_upload(char* buffer, std::size_t size, std::size_t count, void* user) {
    auto* source = static_cast<UploadSource*>(user);
    const std::size_t n = std::min({size * count, source->chunk, source->data.size()});
    std::copy_n(source->data.data(), n, buffer);
    source->data.remove_prefix(n);
    return n;
}

} // namespace

ClientResponse send_request(std::uint16_t port, const ClientRequest& request) {
    ClientResponse response;
    CURL* curl = curl_easy_init();
    REQUIRE(curl != nullptr);
    const std::string url = std::string(request.https ? "https" : "http") +
                            "://127.0.0.1:" + std::to_string(port) + request.target;
    curl_slist* list = nullptr;
    for (const auto& [name, value] : request.headers) {
        // curl drops "Name:" as "remove this header"; "Name;" is its spelling of an empty one.
        list = curl_slist_append(list, (value.empty() ? name + ";" : name + ": " + value).c_str());
    }
    list = curl_slist_append(list, "Expect:");
    UploadSource source{request.body, std::max<std::size_t>(1, request.chunk_bytes)};
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    if (request.method == "POST" && request.chunked) {
        list = curl_slist_append(list, "Transfer-Encoding: chunked");
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_upload);
        curl_easy_setopt(curl, CURLOPT_READDATA, &source);
    } else if (request.method == "POST") {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(request.body.size()));
    } else {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    if (request.https) {
        if (request.ca_file.empty()) {
            curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
        } else {
            curl_easy_setopt(curl, CURLOPT_CAINFO, request.ca_file.c_str());
        }
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    const CURLcode code = curl_easy_perform(curl);
    if (code == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    } else {
        UNSCOPED_INFO("curl: " << curl_easy_strerror(code));
    }
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    return response;
}

std::string gzip_bytes(std::string_view data) {
    util::GzipCompressor compressor;
    std::string out;
    compressor.compress(data, out);
    return out;
}

bool wait_for_log(ChildProcess& process, const std::string& needle, std::size_t times,
                  std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        const std::string err = process.stderr_text();
        std::size_t count = 0;
        for (auto at = err.find(needle); at != std::string::npos; at = err.find(needle, at + 1)) {
            ++count;
        }
        if (count >= times) {
            return true;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

ServeGuard::~ServeGuard() {
    if (!m_stopped) {
        (void)stop(std::chrono::seconds(10));
    }
}

std::optional<int> ServeGuard::stop(std::chrono::milliseconds timeout) {
    m_stopped = true;
    if (m_process.running()) {
        m_process.send_signal(SIGTERM);
    }
    return m_process.wait(timeout);
}

std::unique_ptr<ChildProcess> start_evrelay(const std::vector<std::string>& args,
                                            const std::map<std::string, std::string>& env) {
    ChildProcess::Options options;
    options.args = {EVRELAY_BINARY};
    options.args.insert(options.args.end(), args.begin(), args.end());
    options.env = env;
    for (const char* name :
         {"EVENTS_HOST", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
          "USE_EVENTS", "PORT", "EVENTS_FLUSH_INTERVAL", "EVENTS_CAPACITY", "TLS_ENABLED",
          "TLS_CERT", "TLS_KEY", "TLS_MIN_VERSION", "USE_PROMETHEUS", "PROMETHEUS_PORT",
          "PROMETHEUS_PREFIX", "FILE_DATA_SOURCE", "PROXY_URL", "PROXY_AUTH_USER",
          "PROXY_AUTH_PASSWORD", "PROXY_AUTH_NTLM", "PROXY_AUTH_DOMAIN", "PROXY_CA_CERTS"}) {
        if (env.count(name) == 0) {
            options.unset_env.emplace_back(name);
        }
    }
    return std::make_unique<ChildProcess>(std::move(options));
}

std::uint16_t wait_for_listening(ChildProcess& process, std::chrono::milliseconds timeout) {
    constexpr std::string_view k_marker = "serve: listening on 127.0.0.1:";
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        const std::string err = process.stderr_text();
        if (const auto at = err.find(k_marker); at != std::string::npos) {
            return static_cast<std::uint16_t>(std::stoi(err.substr(at + k_marker.size())));
        }
        if (!process.running()) {
            return 0;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return 0;
}

RawConnection::RawConnection(std::uint16_t port) {
    m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (m_fd < 0) {
        return;
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(m_fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        ::close(m_fd);
        m_fd = -1;
    }
}

RawConnection::~RawConnection() {
    if (m_fd >= 0) {
        ::close(m_fd);
    }
}

bool RawConnection::send(std::string_view bytes) {
    while (!bytes.empty()) {
        // MSG_NOSIGNAL: a closed peer must show as a failed send, not kill the test binary.
        const ssize_t n = ::send(m_fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

bool RawConnection::closed_within(std::chrono::milliseconds timeout, std::string* received) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            return false;
        }
        pollfd entry{m_fd, POLLIN, 0};
        const int ready = ::poll(&entry, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready <= 0) {
            return false;
        }
        char buffer[4096];
        const ssize_t n = ::recv(m_fd, buffer, sizeof buffer, 0);
        if (n == 0) {
            return true;
        }
        if (n < 0) {
            return errno == ECONNRESET || errno == EPIPE;
        }
        if (received != nullptr) {
            received->append(buffer, static_cast<std::size_t>(n));
        }
    }
}

std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    socklen_t length = sizeof address;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    ::close(fd);
    return ntohs(address.sin_port);
}

} // namespace evrelay::test
