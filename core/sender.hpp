#pragma once

#include "core/counters.hpp"
#include "core/environment.hpp"
#include "core/payload.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
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
    std::string proxy; // curl proxy URL ("" = curl's default, which honours HTTPS_PROXY/NO_PROXY)
    // Extra CA bundle file (--ca-cert). It is *added* to curl's default bundle (the two are
    // concatenated into one in-memory bundle); an unreadable file is logged and TLS then fails.
    std::string ca_cert;
    int compression_threads = 1;
};

// Why the sender gave up on a payload.
enum class Undeliverable {
    retries_exhausted, // recoverable failures until the last attempt
    rejected,          // 401/403/other 4xx: the credential is unusable (SPEC §2)
    disabled,          // the (environment, SDK kind) was disabled by an earlier rejection
    no_credential,     // the environment has no credential for this SDK kind
    too_large,         // a single event still answered 413
    shutdown,          // the sender was stopped before delivery
};
std::string_view to_string(Undeliverable reason);

// Told about every payload's end, exactly once per payload accepted by submit() (a payload split
// after a 413 ends as its two halves instead). Called on the sender's thread, or — for
// Undeliverable::shutdown — on the thread calling stop() or submit() after stop; never with a
// sender lock held. Must not block for long, and must not call Sender::stop() or a blocking
// submit() (the sender's thread would wait for itself).
//
// The sender bumps, per (environment, SDK kind): events_forwarded (analytics) or
// diagnostics_forwarded, and payloads_sent on delivery; payloads_failed on every undeliverable
// payload; retries; splits; and CounterRegistry::count_upstream_status for every failed attempt.
// It does not count dropped events: the listener decides whether a payload is spooled or dropped.
class DeliveryListener {
  public:
    virtual ~DeliveryListener() = default;
    virtual void on_delivered(const Payload& payload, long status) = 0;
    // The payload (with its body uncompressed and its payload ID) — to spool or to count.
    virtual void on_undeliverable(Payload payload, Undeliverable reason, long last_status) = 0;
    // Called on the sender's thread after the outcomes of the requests that ended together
    // (one wake-up of the event loop) and before any further request starts: a listener that
    // records deliveries can write them here in one go, and still no more than the requests in
    // flight can have ended unrecorded.
    virtual void on_outcomes_reported() {}
};

// Delivers payloads upstream on the libcurl multi interface (SPEC §2): one thread drives many
// requests on reused connections; retries are scheduled by time, not by sleeping; gzip runs on
// a worker thread. Thread-safe: submit() from any thread.
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

    std::size_t in_flight_bytes() const;
    std::size_t pending_payloads() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace evrelay
