#include "core/flags/flag_store.hpp"

#include <utility>

namespace evrelay {

void FlagStore::fill(Entry& entry, std::shared_ptr<const FlagData> data, std::string source,
                     std::chrono::system_clock::time_point now) {
    entry.status.flag_count = data ? data->flags.size() : 0;
    entry.status.loaded = data != nullptr;
    entry.data = std::move(data);
    entry.status.source = std::move(source);
    entry.status.updated = now;
    entry.status.last_error.clear();
}

void FlagStore::set_shared(std::shared_ptr<const FlagData> data, std::string source,
                           std::chrono::system_clock::time_point now) {
    std::lock_guard lock(m_mutex);
    if (!m_shared) {
        m_shared.emplace();
    }
    fill(*m_shared, std::move(data), std::move(source), now);
}

void FlagStore::set(const std::string& env_name, std::shared_ptr<const FlagData> data,
                    std::string source, std::chrono::system_clock::time_point now) {
    std::lock_guard lock(m_mutex);
    fill(m_by_env[env_name], std::move(data), std::move(source), now);
}

void FlagStore::confirm(const std::string& env_name, std::chrono::system_clock::time_point now) {
    std::lock_guard lock(m_mutex);
    if (auto it = m_by_env.find(env_name); it != m_by_env.end()) {
        it->second.status.updated = now;
        it->second.status.last_error.clear();
    }
}

void FlagStore::set_error(const std::string& env_name, std::string source, std::string message) {
    std::lock_guard lock(m_mutex);
    Entry& entry = m_by_env[env_name];
    if (entry.status.source.empty()) {
        entry.status.source = std::move(source);
    }
    entry.status.last_error = std::move(message);
}

void FlagStore::set_shared_error(std::string message) {
    std::lock_guard lock(m_mutex);
    if (!m_shared) {
        m_shared.emplace();
    }
    m_shared->status.last_error = std::move(message);
}

void FlagStore::forget(const std::string& env_name) {
    std::lock_guard lock(m_mutex);
    m_by_env.erase(env_name);
}

std::shared_ptr<const FlagData> FlagStore::get(const std::string& env_name) const {
    std::lock_guard lock(m_mutex);
    if (auto it = m_by_env.find(env_name); it != m_by_env.end() && it->second.data) {
        return it->second.data;
    }
    return m_shared ? m_shared->data : nullptr;
}

FlagDataStatus FlagStore::status(const std::string& env_name) const {
    std::lock_guard lock(m_mutex);
    if (auto it = m_by_env.find(env_name); it != m_by_env.end()) {
        if (it->second.data || !m_shared) {
            return it->second.status;
        }
    }
    return m_shared ? m_shared->status : FlagDataStatus{};
}

} // namespace evrelay
