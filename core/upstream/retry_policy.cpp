#include "core/upstream/retry_policy.hpp"

#include <algorithm>

namespace evrelay {

AttemptOutcome classify_status(long status) {
    if (status >= 200 && status < 300) {
        return AttemptOutcome::delivered;
    }
    if (status == 413) {
        return AttemptOutcome::too_large;
    }
    if (status == k_proxy_authentication_required) {
        return AttemptOutcome::proxy_rejected;
    }
    if (status >= 400 && status < 500) {
        if (status == 400 || status == 408 || status == 429) {
            return AttemptOutcome::recoverable;
        }
        return AttemptOutcome::rejected;
    }
    return AttemptOutcome::recoverable;
}

RetryPolicy::RetryPolicy(int retries, std::chrono::milliseconds base)
    : m_retries(std::max(retries, 0)), m_base(std::max(base, std::chrono::milliseconds(0))) {}

bool RetryPolicy::may_retry(int attempts_made) const {
    return attempts_made - 1 < m_retries;
}

std::chrono::milliseconds RetryPolicy::delay_before_retry(int retry_number,
                                                          double unit_random) const {
    if (retry_number <= 1) {
        return std::min(m_base, k_max_delay);
    }
    // Doubling in floating point cannot overflow; the cap bounds the result.
    double doubled = static_cast<double>(m_base.count());
    for (int k = 1; k < retry_number && doubled < static_cast<double>(k_max_delay.count()); ++k) {
        doubled *= 2.0;
    }
    doubled = std::min(doubled, static_cast<double>(k_max_delay.count()));
    const double factor = 0.5 + 0.5 * std::clamp(unit_random, 0.0, 1.0);
    return std::chrono::milliseconds(static_cast<long long>(doubled * factor));
}

std::chrono::milliseconds RetryPolicy::delay_before_retry(int retry_number,
                                                          std::mt19937_64& rng) const {
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    return delay_before_retry(retry_number, unit(rng));
}

} // namespace evrelay
