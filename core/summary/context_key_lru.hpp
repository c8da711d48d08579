#pragma once

#include <cstddef>
#include <functional>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

namespace evrelay {

// The contexts an index event (or an identify event) has been sent for: the most recently
// seen `capacity` LRU keys (ContextIdentity::lru_key()), as go-sdk-events' lruCache, which a
// summarising Relay sizes at 1,000 and clears every 5 minutes. Not thread-safe.
class ContextKeyLru {
  public:
    explicit ContextKeyLru(std::size_t capacity) : m_capacity(capacity) {}
    ContextKeyLru(const ContextKeyLru&) = delete;
    ContextKeyLru& operator=(const ContextKeyLru&) = delete;

    // true when `key` was present (it becomes the most recent); otherwise remembers it, as the
    // most recent, forgetting the least recent beyond the capacity, and returns false. With a
    // capacity of 0 nothing is remembered.
    bool add(std::string_view key);
    void clear();
    std::size_t size() const { return m_index.size(); }

  private:
    std::size_t m_capacity;
    std::list<std::string> m_order; // most recent first; list nodes never move
    // Views of the strings in m_order's nodes.
    std::unordered_map<std::string_view, std::list<std::string>::iterator> m_index;
};

} // namespace evrelay
