#include "serve_process.hpp"

#include <catch2/catch.hpp>
#include <curl/curl.h>

#include <thread>

namespace evrelay::test {

ServeProcess::ServeProcess(const std::vector<std::string>& args,
                           std::map<std::string, std::string> env) {
    ChildProcess::Options options;
    options.args = {EVRELAY_BINARY, "serve", "--bind", "127.0.0.1", "--port", "0"};
    options.args.insert(options.args.end(), args.begin(), args.end());
    options.env = std::move(env);
    options.unset_env = {
        "EVENTS_HOST",     "HTTPS_PROXY",       "https_proxy",     "HTTP_PROXY",
        "http_proxy",      "ALL_PROXY",         "USE_EVENTS",      "PORT",
        "TLS_ENABLED",     "USE_PROMETHEUS",    "FILE_DATA_SOURCE", "PROXY_URL",
        "PROXY_AUTH_USER", "PROXY_AUTH_PASSWORD", "PROXY_AUTH_NTLM", "PROXY_AUTH_DOMAIN",
        "PROXY_CA_CERTS"};
    m_process = std::make_unique<ChildProcess>(std::move(options));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    constexpr std::string_view k_marker = "serve: listening on 127.0.0.1:";
    while (std::chrono::steady_clock::now() < deadline) {
        const std::string err = m_process->stderr_text();
        if (const auto at = err.find(k_marker); at != std::string::npos) {
            m_port = static_cast<std::uint16_t>(std::stoi(err.substr(at + k_marker.size())));
            return;
        }
        if (!m_process->running()) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL("evrelay serve did not start listening: " << m_process->stderr_text());
}

std::string ClientResponse::header(const std::string& lower_name) const {
    for (const auto& [name, value] : headers) {
        if (name == lower_name) {
            return value;
        }
    }
    return {};
}

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

} // namespace

ClientResponse http_request(std::uint16_t port, const std::string& method,
                            const std::string& target,
                            const std::vector<std::pair<std::string, std::string>>& headers,
                            const std::string& body) {
    ClientResponse response;
    CURL* curl = curl_easy_init();
    REQUIRE(curl != nullptr);
    const std::string url = "http://127.0.0.1:" + std::to_string(port) + target;
    curl_slist* list = nullptr;
    for (const auto& [name, value] : headers) {
        list = curl_slist_append(list, (name + ": " + value).c_str());
    }
    list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (method == "POST") {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    if (curl_easy_perform(curl) == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    }
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    return response;
}

} // namespace evrelay::test
