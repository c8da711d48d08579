#include "core/upstream/flag_data_poller.hpp"

#include "core/model/credential.hpp"
#include "core/upstream/ca_bundle.hpp"
#include "core/upstream/curl_handles.hpp"
#include "core/util/ascii.hpp"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <array>
#include <cstdio>
#include <memory>
#include <utility>

namespace evrelay {

namespace {

// What one GET brought back.
struct PollResponse {
    std::string body;
    std::string etag;
    std::size_t limit = 0;
    bool too_large = false;
};

size_t on_body(char* data, size_t size, size_t count, void* userdata) {
    auto* response = static_cast<PollResponse*>(userdata);
    const std::size_t bytes = size * count;
    if (response->body.size() + bytes > response->limit) {
        response->too_large = true;
        return 0; // aborts the transfer (CURLE_WRITE_ERROR)
    }
    response->body.append(data, bytes);
    return bytes;
}

size_t on_header(char* data, size_t size, size_t count, void* userdata) {
    auto* response = static_cast<PollResponse*>(userdata);
    const std::size_t bytes = size * count;
    const std::string_view line(data, bytes);
    if (line.size() > 5 && util::iequals(line.substr(0, 5), "etag:")) {
        response->etag = std::string(util::trim(line.substr(5)));
    }
    return bytes;
}

std::string trim_slashes(std::string uri) {
    while (!uri.empty() && uri.back() == '/') {
        uri.pop_back();
    }
    return uri;
}

} // namespace

FlagDataPoller::FlagDataPoller(FlagDataPollerOptions options, FlagStore& store,
                               std::function<std::vector<FlagPollTarget>()> targets)
    : m_options(std::move(options)), m_store(store), m_targets(std::move(targets)),
      m_url(trim_slashes(m_options.base_uri) + "/sdk/latest-all") {
    // The sender has logged a proxy or CA file it cannot use; polls then fail the same way,
    // never going around the proxy or unverified.
    if (Result<CurlProxy> proxy = curl_proxy_for(m_options.proxy)) {
        m_proxy = std::move(*proxy);
    } else {
        m_unusable = proxy.error().message;
    }
    if (!m_options.ca_cert_files.empty()) {
        if (Result<std::string> bundle = ca_bundle_with(m_options.ca_cert_files)) {
            m_ca_bundle = std::move(*bundle);
        } else {
            m_unusable = bundle.error().message;
        }
    }
}

FlagDataPoller::~FlagDataPoller() {
    stop();
}

void FlagDataPoller::start() {
    std::lock_guard lock(m_mutex);
    if (!m_thread.joinable() && !m_stopping) {
        m_thread = std::thread([this] { run(); });
    }
}

void FlagDataPoller::stop() {
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
    }
    m_wake.notify_all();
    if (m_thread.joinable()) {
        m_thread.join();
    }
}

void FlagDataPoller::run() {
    std::unique_lock lock(m_mutex);
    while (!m_stopping) {
        lock.unlock();
        poll_once();
        lock.lock();
        m_wake.wait_for(lock, m_options.interval, [this] { return m_stopping; });
    }
}

void FlagDataPoller::poll_once() {
    for (const FlagPollTarget& target : m_targets()) {
        {
            std::lock_guard lock(m_mutex);
            if (m_stopping) {
                return;
            }
        }
        if (!target.sdk_key.empty()) {
            std::lock_guard lock(m_poll_mutex);
            poll(target);
        }
    }
}

bool FlagDataPoller::poll_environment(const std::string& env_name) {
    for (const FlagPollTarget& target : m_targets()) {
        if (target.env_name == env_name && !target.sdk_key.empty()) {
            std::lock_guard lock(m_poll_mutex);
            poll(target);
            return true;
        }
    }
    return false;
}

void FlagDataPoller::poll(const FlagPollTarget& target) {
    const EasyHandle easy(curl_easy_init());
    if (!easy) {
        note_state(target.env_name, PollState::failing, "curl_easy_init failed");
        return;
    }
    PollResponse response;
    response.limit = m_options.max_body_bytes;
    std::array<char, CURL_ERROR_SIZE> error{};
    const std::string authorization = "Authorization: " + target.sdk_key;
    const std::string user_agent = "User-Agent: " + m_options.user_agent;
    std::string if_none_match;
    if (auto it = m_etags.find(target.env_name); it != m_etags.end() && !it->second.empty()) {
        if_none_match = "If-None-Match: " + it->second;
    }
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, authorization.c_str());
    headers = curl_slist_append(headers, user_agent.c_str());
    headers = curl_slist_append(headers, "Accept: application/json");
    if (!if_none_match.empty()) {
        headers = curl_slist_append(headers, if_none_match.c_str());
    }
    const std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(
        headers, &curl_slist_free_all);

    CURL* handle = easy.get();
    curl_easy_setopt(handle, CURLOPT_URL, m_url.c_str());
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, header_list.get());
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_ACCEPT_ENCODING, ""); // gzip if the server offers it
    curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(m_options.connect_timeout.count()));
    curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(m_options.request_timeout.count()));
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &response);
    curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(handle, CURLOPT_HEADERDATA, &response);
    curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error.data());
    if (!m_ca_bundle.empty()) {
        curl_blob blob{m_ca_bundle.data(), m_ca_bundle.size(), CURL_BLOB_NOCOPY};
        curl_easy_setopt(handle, CURLOPT_CAINFO_BLOB, &blob);
        curl_easy_setopt(handle, CURLOPT_PROXY_CAINFO_BLOB, &blob);
    }
    Result<void> proxy_applied = apply_curl_proxy(handle, m_proxy);

    const CURLcode result = !m_unusable.empty() || !proxy_applied
                                ? CURLE_COULDNT_CONNECT
                                : curl_easy_perform(handle);
    if (!m_unusable.empty() || !proxy_applied) {
        const std::string& why = !m_unusable.empty() ? m_unusable : proxy_applied.error().message;
        std::snprintf(error.data(), error.size(), "%s", why.c_str());
    }
    long status = 0;
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
    const std::string source = "poll " + m_url;
    if (result != CURLE_OK) {
        const std::string message =
            response.too_large
                ? "flag data larger than " + std::to_string(m_options.max_body_bytes) + " bytes"
                : std::string("connection error (") +
                      (error[0] != '\0' ? error.data() : curl_easy_strerror(result)) + ")";
        m_store.set_error(target.env_name, source, message);
        note_state(target.env_name, PollState::failing, message);
        return;
    }
    if (status == 304) {
        m_store.confirm(target.env_name, std::chrono::system_clock::now());
        note_state(target.env_name, PollState::ok, {});
        return;
    }
    if (status == 401 || status == 403) {
        const std::string message = "HTTP " + std::to_string(status) + ": the SDK key " +
                                    mask_credential(target.sdk_key) + " was refused";
        m_store.set_error(target.env_name, source, message);
        note_state(target.env_name, PollState::refused, message);
        return;
    }
    if (status != 200) {
        const std::string message = "HTTP " + std::to_string(status);
        m_store.set_error(target.env_name, source, message);
        note_state(target.env_name, PollState::failing, message);
        return;
    }
    Result<FlagData> data = parse_flag_data(response.body);
    if (!data) {
        const std::string message = "unreadable flag data: " + data.error().message;
        m_store.set_error(target.env_name, source, message);
        note_state(target.env_name, PollState::failing, message);
        return;
    }
    m_etags[target.env_name] = response.etag;
    m_store.set(target.env_name, std::make_shared<const FlagData>(std::move(*data)), source,
                std::chrono::system_clock::now());
    note_state(target.env_name, PollState::ok, {});
}

void FlagDataPoller::note_state(const std::string& env_name, PollState state,
                                const std::string& message) {
    PollState& previous = m_states[env_name];
    if (previous == state) {
        return;
    }
    const bool had_data = m_store.get(env_name) != nullptr;
    switch (state) {
    case PollState::ok:
        spdlog::info("flag data: {}: read from {}{}", env_name, m_url,
                     previous == PollState::none ? "" : " again");
        break;
    case PollState::refused:
        spdlog::error("flag data: {}: {} refused the SDK key ({}); {}", env_name, m_url, message,
                      had_data ? "keeping the last flag data"
                               : "evaluations are counted as unknown flags until it is accepted");
        break;
    case PollState::failing:
        spdlog::warn("flag data: {}: cannot read {}: {}; {}", env_name, m_url, message,
                     had_data ? "keeping the last flag data"
                              : "evaluations are counted as unknown flags until it can");
        break;
    case PollState::none:
        break;
    }
    previous = state;
}

} // namespace evrelay
