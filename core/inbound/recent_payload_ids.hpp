#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace evrelay {

// The keys (environment and payload ID) of the last `capacity` posts a serve stored in its
// spool, so that a post an SDK sends again — it never saw the 202 of the first one — is answered
// 202 without being stored twice. The oldest key is forgotten first. A key can also be *being
// stored* (claim() … finish()): a durable post whose fsync has not returned yet, maybe already
// answered 503 by --durable-timeout. The SDK's retry of it then waits for that outcome
// (when_finished()) instead of being stored a second time. Thread-safe.
class RecentPayloadIds {
  public:
    enum class Claim {
        claimed, // unknown until now: the caller stores the post, then calls finish()
        stored,  // stored already
        storing, // another post with this key is being stored (when_finished() waits for it)
    };
    // Called once with whether the post being stored under a key was stored.
    using Waiter = std::function<void(bool stored)>;

    explicit RecentPayloadIds(std::size_t capacity) : m_capacity(capacity) {}

    bool contains(const std::string& key) const; // stored
    void add(const std::string& key);            // stored (no claim needed)

    Claim claim(const std::string& key);
    // The post that claimed `key` is stored (remembered as stored) or failed (forgotten: a retry
    // stores it again). Calls the waiters of `key` with that outcome, on this thread, without
    // the lock.
    void finish(const std::string& key, bool stored);
    // Calls `waiter` with the outcome of the post being stored under `key` once finish() gives
    // it, or now, with contains(key), when none is being stored (it finished meanwhile).
    void when_finished(const std::string& key, Waiter waiter);

  private:
    void add_locked(const std::string& key);

    const std::size_t m_capacity;
    mutable std::mutex m_mutex;
    std::unordered_set<std::string> m_keys;
    std::deque<std::string> m_order; // oldest first
    // Keys being stored, with the waiters for their outcome. Never evicted: finish() ends each.
    std::unordered_map<std::string, std::vector<Waiter>> m_storing;
};

} // namespace evrelay
