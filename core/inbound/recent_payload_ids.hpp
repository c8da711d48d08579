#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_set>

namespace evrelay {

// The keys (environment and payload ID) of the last `capacity` posts a serve stored in its
// spool, so that a post an SDK sends again — it never saw the 202 of the first one — is answered
// 202 without being stored twice. The oldest key is forgotten first. Thread-safe.
class RecentPayloadIds {
  public:
    explicit RecentPayloadIds(std::size_t capacity) : m_capacity(capacity) {}

    bool contains(const std::string& key) const;
    void add(const std::string& key);

  private:
    const std::size_t m_capacity;
    mutable std::mutex m_mutex;
    std::unordered_set<std::string> m_keys;
    std::deque<std::string> m_order; // oldest first
};

} // namespace evrelay
