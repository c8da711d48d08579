#include "core/upstream/curl_transfer.hpp"

#include "core/upstream/retry_policy.hpp"
#include "core/util/ascii.hpp"

#include <string>
#include <utility>

namespace evrelay {

namespace {

// CURLOPT_UPLOAD_BUFFERSIZE (libcurl allows up to 2 MiB).
constexpr long k_upload_buffer_bytes = 512L * 1024;

// CURLOPT_HEADERFUNCTION: keeps the Date of each response (the last one wins) in the
// std::atomic<std::int64_t> given as HEADERDATA; every other header is ignored.
size_t record_date_header(char* buffer, size_t size, size_t count, void* userdata) {
    const std::size_t bytes = size * count;
    const std::string_view line(buffer, bytes);
    if (line.size() > 5 && util::iequals(line.substr(0, 5), "date:")) {
        const std::string value(util::trim(line.substr(5)));
        const time_t seconds = curl_getdate(value.c_str(), nullptr);
        if (seconds > 0) {
            static_cast<std::atomic<std::int64_t>*>(userdata)->store(
                static_cast<std::int64_t>(seconds) * 1000, std::memory_order_relaxed);
        }
    }
    return bytes;
}

} // namespace

void HeaderList::assign(const RequestHeaders& request, std::string_view payload_id) {
    m_nodes.clear();
    const auto add_node = [this](const std::string& text) {
        m_nodes.push_back(curl_slist{const_cast<char*>(text.c_str()), nullptr});
    };
    if (request.id_position != std::string::npos) {
        m_id_line.assign(k_payload_id_header).append(": ").append(payload_id);
    }
    for (std::size_t i = 0; i <= request.lines.size(); ++i) {
        if (i == request.id_position) {
            add_node(m_id_line);
        }
        if (i < request.lines.size()) {
            add_node(request.lines[i]);
        }
    }
    for (std::size_t i = 0; i + 1 < m_nodes.size(); ++i) {
        m_nodes[i].next = &m_nodes[i + 1];
    }
}

void Transfer::prepare(JobPtr job, std::shared_ptr<const RequestHeaders> request, bool gzip) {
    CURL* easy = m_easy.get();
    curl_easy_setopt(easy, CURLOPT_URL, request->url.c_str());
    m_headers.assign(*request, job->payload.id);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, m_headers.get());
    const std::string& bytes = gzip ? job->compressed : job->payload.body;
    // No copy: curl reads the payload's own buffer, which lives as long as the transfer has it.
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(bytes.size()));
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, bytes.data());
    m_error[0] = '\0';
    m_request = std::move(request);
    ++job->attempts;
    m_job = std::move(job);
}

long Transfer::status(CURLcode result) const {
    long status = 0;
    if (result == CURLE_OK) {
        curl_easy_getinfo(m_easy.get(), CURLINFO_RESPONSE_CODE, &status);
    } else if (long connect_status = 0; curl_easy_getinfo(m_easy.get(), CURLINFO_HTTP_CONNECTCODE,
                                                          &connect_status) == CURLE_OK &&
                                        connect_status == k_proxy_authentication_required) {
        // The CONNECT of an https:// upstream was refused; for a plain http:// upstream the
        // proxy's 407 is the response itself (above).
        status = connect_status;
    }
    return status;
}

JobPtr Transfer::take_job() {
    return std::move(m_job);
}

std::shared_ptr<const RequestHeaders> Transfer::take_request() {
    return std::move(m_request);
}

TransferPool::TransferPool(TransferSettings settings) : m_settings(std::move(settings)) {}

Result<std::unique_ptr<Transfer>> TransferPool::take_idle() {
    if (m_idle.empty()) {
        return make_transfer();
    }
    std::unique_ptr<Transfer> transfer = std::move(m_idle.back());
    m_idle.pop_back();
    return transfer;
}

void TransferPool::put_idle(std::unique_ptr<Transfer> transfer) {
    transfer->m_job.reset();
    transfer->m_request.reset();
    m_idle.push_back(std::move(transfer));
}

void TransferPool::put_running(std::unique_ptr<Transfer> transfer) {
    transfer->m_running_index = m_running.size();
    m_running.push_back(std::move(transfer));
}

std::unique_ptr<Transfer> TransferPool::take_running(CURL* easy) {
    Transfer* found = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &found);
    const std::size_t index = found->m_running_index;
    std::unique_ptr<Transfer> transfer = std::move(m_running[index]);
    if (index + 1 != m_running.size()) {
        m_running[index] = std::move(m_running.back());
        m_running[index]->m_running_index = index;
    }
    m_running.pop_back();
    return transfer;
}

std::vector<std::unique_ptr<Transfer>> TransferPool::take_all_running() {
    return std::exchange(m_running, {});
}

Result<std::unique_ptr<Transfer>> TransferPool::make_transfer() const {
    if (!m_settings.unusable.empty()) {
        return make_error(ErrorKind::config, m_settings.unusable);
    }
    EasyHandle handle(curl_easy_init());
    if (!handle) {
        return make_error(ErrorKind::io, "curl_easy_init failed");
    }
    std::unique_ptr<Transfer> transfer(new Transfer(std::move(handle)));
    CURL* easy = transfer->easy();
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(m_settings.connect_timeout.count()));
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(m_settings.request_timeout.count()));
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    // libcurl copies a POSTFIELDS body through its upload buffer (64 KiB by default) and sends it
    // a buffer at a time, polling in between: a payload of 1,000 SDK events (~400 KB) took nine
    // sendto() and ~17 poll() calls (bench/serve.sh, perf stat), with this buffer about three
    // and eight (the socket's send buffer limits the rest). The buffer belongs to the easy
    // handle: at most --max-connections of them, i.e. 8 MiB with the default 16.
    curl_easy_setopt(easy, CURLOPT_UPLOAD_BUFFERSIZE, k_upload_buffer_bytes);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer->m_error.data());
    // The response body is not needed; without a callback curl would write it to stdout.
    curl_easy_setopt(
        easy, CURLOPT_WRITEFUNCTION,
        +[](char*, size_t size, size_t count, void*) -> size_t { return size * count; });
    if (m_settings.upstream_date_ms != nullptr) {
        curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &record_date_header);
        curl_easy_setopt(easy, CURLOPT_HEADERDATA, m_settings.upstream_date_ms);
    }
    if (!m_settings.ca_bundle.empty()) {
        curl_blob blob{const_cast<char*>(m_settings.ca_bundle.data()), m_settings.ca_bundle.size(),
                       CURL_BLOB_NOCOPY};
        curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &blob);
        // An https:// proxy is verified with the same CAs (Relay's Go transport does the same).
        curl_easy_setopt(easy, CURLOPT_PROXY_CAINFO_BLOB, &blob);
    }
    if (Result<void> applied = apply_curl_proxy(easy, m_settings.proxy); !applied) {
        return tl::unexpected(applied.error());
    }
    // Read back by take_running(); the pool owns the transfer whenever curl can hand it back.
    curl_easy_setopt(easy, CURLOPT_PRIVATE, transfer.get());
    return transfer;
}

} // namespace evrelay
