#pragma once

#include <chrono>
#include <random>

namespace evrelay {

// The proxy's "Proxy Authentication Required".
inline constexpr long k_proxy_authentication_required = 407;

// What one upstream attempt's HTTP status means for its payload (SPEC §2).
enum class AttemptOutcome {
    delivered,      // 2xx
    recoverable,    // connection error or timeout (status 0), 400, 408, 429, 5xx, anything else
    too_large,      // 413: split the payload in halves
    rejected,       // any other 4xx: the credential is unusable
    proxy_rejected, // 407: the proxy refused the proxy credentials
};

// Classifies a status as Relay (go-sdk-events) does; 0 stands for a connection error or timeout.
// Statuses outside 2xx and 4xx (1xx, 3xx — redirects are not followed) count as recoverable,
// as in Relay's isHTTPErrorRecoverable. 407 is the one 4xx evrelay sets apart: Relay sees it as
// a connection error (an https:// upstream, whose CONNECT fails) or as the environment's
// credential refused (http://); it is neither, but the proxy refusing the proxy credentials —
// the same kind of configuration problem as a 401 (no retry, exit 78), named as what it is.
AttemptOutcome classify_status(long status);

// When to retry a payload that failed recoverably. Pure, so it can be tested without a network.
class RetryPolicy {
  public:
    // `retries`: attempts allowed after the first; `base`: the wait before the first retry.
    RetryPolicy(int retries, std::chrono::milliseconds base);

    // Whether another attempt may follow `attempts_made` attempts (1 after the first one).
    bool may_retry(int attempts_made) const;

    // The wait before retry `retry_number` (1-based). The first retry waits exactly `base`, as
    // Relay does; retry k > 1 waits base * 2^(k-1) scaled by a factor in [0.5, 1.0] taken from
    // `unit_random` in [0, 1] (jitter spreads the retries of many payloads that failed together).
    // The doubled delay is capped at k_max_delay so that a large --retries cannot overflow.
    std::chrono::milliseconds delay_before_retry(int retry_number, double unit_random) const;
    std::chrono::milliseconds delay_before_retry(int retry_number, std::mt19937_64& rng) const;

    int retries() const { return m_retries; }
    std::chrono::milliseconds base() const { return m_base; }

    static constexpr std::chrono::milliseconds k_max_delay{std::chrono::hours(1)};

  private:
    int m_retries;
    std::chrono::milliseconds m_base;
};

} // namespace evrelay
