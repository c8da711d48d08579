#pragma once

#include "core/model/counters.hpp"
#include "core/model/delivery_listener.hpp"
#include "core/model/environment.hpp"
#include "core/model/outbound_proxy.hpp"
#include "core/model/payload.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace evrelay {

struct SenderOptions {
    std::string events_uri = "https://events.launchdarkly.com";
    std::string user_agent = std::string("evrelay/") + EVRELAY_VERSION;
    bool gzip = true;
    int gzip_level = 6;
    int retries = 1;                             // attempts after the first (Relay: 1)
    std::chrono::milliseconds retry_delay{1000}; // before the first retry; then doubled, jittered
    std::size_t max_in_flight_bytes = 64u << 20; // submit() blocks above this (back-pressure)
    std::size_t max_concurrent_requests = 16;
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds request_timeout{30000};
    // The outbound proxy; its credentials go to libcurl as credentials (proxy_settings.hpp).
    // A 407 from it ends the payload at once (Undeliverable::proxy_rejected: a configuration
    // problem, like a refused credential). No URL = libcurl's default (HTTPS_PROXY, NO_PROXY).
    OutboundProxy proxy;
    // CA files trusted besides libcurl's default bundle (--ca-cert, caCertFiles), for the
    // upstream and an HTTPS proxy (ca_bundle.hpp). Callers check them first (ca_bundle_with,
    // curl_proxy_for): a file or proxy the sender cannot use is logged, and every attempt then
    // fails as a connection error rather than going out unverified or around the proxy.
    std::vector<std::string> ca_cert_files;
};

// Delivers payloads upstream on the libcurl multi interface (SPEC §2): one thread drives many
// requests on reused connections; retries are scheduled by time, not by sleeping; gzip runs on
// a worker thread. Thread-safe: submit() from any thread. cli/main.cpp sets libcurl's global
// state up before any thread starts; elsewhere (the tests) libcurl's first curl_easy_init does,
// which is safe with other threads running only in libcurl builds with CURL_VERSION_THREADSAFE.
class Sender : public PayloadSink {
  public:
    Sender(SenderOptions options, const EnvironmentTable& environments, DeliveryListener& listener,
           CounterRegistry& counters);
    ~Sender() override; // stop(): pending payloads are reported as Undeliverable::shutdown

    // Queues a payload. Blocks while admitting it would make the bytes in flight (uncompressed
    // bodies accepted and not yet finished) exceed max_in_flight_bytes; a payload is always
    // admitted when nothing is in flight. After stop(), reports the payload as shutdown at once.
    void submit(Payload payload) override;

    // Waits until nothing is queued, compressing, in flight or waiting to retry.
    // Returns false when the timeout ran out first.
    bool wait_idle(std::chrono::milliseconds timeout);

    // Cancels everything still pending; each such payload goes to on_undeliverable(shutdown).
    void stop();

    // The Date header of the upstream's last response; nullopt before the first.
    std::optional<std::chrono::system_clock::time_point> upstream_date() const;

    std::size_t in_flight_bytes() const;
    std::size_t pending_payloads() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace evrelay
