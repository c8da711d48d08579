#pragma once

#include "core/upstream/curl_handles.hpp"
#include "core/upstream/proxy_settings.hpp"
#include "core/upstream/request_header_cache.hpp"
#include "core/upstream/sender_job.hpp"
#include "core/util/error.hpp"

#include <curl/curl.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace evrelay {

// CURLOPT_HTTPHEADER of one attempt: a RequestHeaders' lines with the payload ID's line at its
// place. Made of nodes this list keeps (no allocation once warm) pointing at the shared lines, so
// curl never frees it; valid while the RequestHeaders it was made from lives and until the next
// assign().
class HeaderList {
  public:
    void assign(const RequestHeaders& request, std::string_view payload_id);
    curl_slist* get() { return m_nodes.empty() ? nullptr : m_nodes.data(); }

  private:
    std::string m_id_line; // "X-LaunchDarkly-Payload-ID: …"
    std::vector<curl_slist> m_nodes;
};

// What is the same for every attempt, set once per easy handle.
struct TransferSettings {
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds request_timeout{30000};
    CurlProxy proxy;       // all unset = curl's default
    std::string ca_bundle; // in memory, for the upstream and an HTTPS proxy; "" = curl's default
    // Why no transfer can be made ("" = they can): a proxy or CA file that cannot be used. Every
    // attempt then fails as a connection error, never sent around the proxy or unverified.
    std::string unusable;
    // Where each response's Date header goes (Unix ms), for the summariser's debug window
    // (SPEC §8: debug events stop at the later of evrelay's clock and the upstream's). Null:
    // response headers are not read.
    std::atomic<std::int64_t>* upstream_date_ms = nullptr;
};

// One easy handle with what lives as long as its attempt: the job, the request description its
// header list points into, the error buffer. Reused for attempt after attempt (the connection
// state libcurl keeps with the handle, and the header list's memory). Always owned by a
// TransferPool or by whoever took it from one; curl's private pointer refers to it only while
// the pool owns it as running.
class Transfer {
  public:
    Transfer(const Transfer&) = delete;
    Transfer& operator=(const Transfer&) = delete;

    CURL* easy() const { return m_easy.get(); }

    // Sets the attempt up: the URL and headers of `request`, the body of `job` (its compressed
    // bytes when `gzip`); curl reads the job's own buffer, no copy. Counts the attempt.
    void prepare(JobPtr job, std::shared_ptr<const RequestHeaders> request, bool gzip);

    // The attempt's result: the HTTP status (0 unless `result` is CURLE_OK, but 407 when the
    // proxy refused the tunnel with it: an answer, not a connection error) and curl's error text
    // ("" when curl left none).
    long status(CURLcode result) const;
    const char* error() const { return m_error.data(); }

    // Ends the attempt, handing back the job and the description it was sent with.
    JobPtr take_job();
    std::shared_ptr<const RequestHeaders> take_request();

  private:
    friend class TransferPool;
    explicit Transfer(EasyHandle easy) : m_easy(std::move(easy)) {}

    EasyHandle m_easy;
    JobPtr m_job;
    std::shared_ptr<const RequestHeaders> m_request;
    HeaderList m_headers;
    std::array<char, CURL_ERROR_SIZE> m_error{};
    std::size_t m_running_index = 0; // position in TransferPool::m_running
};

// Every transfer of the sender, idle or running. Used by the sender's curl thread only.
class TransferPool {
  public:
    explicit TransferPool(TransferSettings settings);

    // An idle transfer, or a new one when none is. Fails when curl_easy_init does (out of
    // memory).
    Result<std::unique_ptr<Transfer>> take_idle();
    void put_idle(std::unique_ptr<Transfer> transfer);

    // Keeps `transfer` while curl runs it; curl's private pointer of its handle refers to it.
    void put_running(std::unique_ptr<Transfer> transfer);
    // The running transfer of `easy` (a handle of this pool's), no longer counted as running.
    std::unique_ptr<Transfer> take_running(CURL* easy);
    // Every running transfer (when stopping).
    std::vector<std::unique_ptr<Transfer>> take_all_running();
    std::size_t running() const { return m_running.size(); }
    const TransferSettings& settings() const { return m_settings; }

  private:
    Result<std::unique_ptr<Transfer>> make_transfer() const;

    const TransferSettings m_settings;
    std::vector<std::unique_ptr<Transfer>> m_idle;
    std::vector<std::unique_ptr<Transfer>> m_running;
};

} // namespace evrelay
