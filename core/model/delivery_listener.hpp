#pragma once

#include "core/model/counters.hpp"
#include "core/model/payload.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace evrelay {

// The delivery-outcome interface between whatever delivers payloads (the upstream sender) and
// whatever must know how each ended (ledger, upstream state, spool): in the model so that
// listeners do not depend on the sender.

// Why the sender gave up on a payload.
enum class Undeliverable {
    retries_exhausted, // recoverable failures until the last attempt
    rejected,          // 401/403/other 4xx: the credential is unusable (SPEC §2)
    proxy_rejected,    // 407: the proxy refused evrelay's proxy credentials (a config problem)
    disabled,          // the (environment, SDK kind) was disabled by an earlier rejection
    no_credential,     // the environment has no credential for this SDK kind
    too_large,         // a single event still answered 413
    shutdown,          // the sender was stopped before delivery
};
std::string_view to_string(Undeliverable reason);

// The counter an undeliverable payload is dropped under.
DropReason drop_reason_for(Undeliverable reason);

// True for the reasons that mean a credential cannot be used — the environment's, or the
// proxy's — which only a configuration change can fix (exit 78).
bool is_credential_problem(Undeliverable reason);
// "upstream answered 401 for environment "production" (server)", "environment "x" has no SDK
// key", or "the proxy answered 407 …": what replay and flush say when they exit 78.
std::string describe_credential_problem(const Payload& payload, Undeliverable reason,
                                        long last_status);

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

// Where events that did not fit under --max-pending go (SPEC §3: spooled when a spool is
// configured, else dropped and counted). Called without the publisher's lock held.
class OverflowHandler {
  public:
    virtual ~OverflowHandler() = default;
    virtual void on_overflow(const std::string& env_name, SdkKind sdk,
                             const PayloadMetadata& metadata,
                             const std::vector<std::string_view>& events) = 0;
};

} // namespace evrelay
