#pragma once

#include "core/flags/flag_data.hpp"

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace evrelay {

// What /status and /metrics say about one environment's flag data (SPEC §8, issue 11 item 5).
struct FlagDataStatus {
    std::string source; // "file /etc/evrelay/flags.json", "poll https://…/sdk/latest-all", ""
    std::size_t flag_count = 0;
    bool loaded = false; // any data yet
    // When the data was last read or confirmed unchanged (a 304); its age is measured from here.
    std::optional<std::chrono::system_clock::time_point> updated;
    std::string last_error; // of the last failed read or poll; "" after a success
};

// The flag data the summariser reads, per environment: the data polled for that environment, or
// else the one --flags file every environment shares. Readers get an immutable snapshot
// (shared_ptr<const FlagData>): a reload never changes data a summariser is using. Thread-safe.
class FlagStore {
  public:
    // --flags FILE: the data of every environment without polled data of its own.
    void set_shared(std::shared_ptr<const FlagData> data, std::string source,
                    std::chrono::system_clock::time_point now);
    // Polled data of one environment (a 200).
    void set(const std::string& env_name, std::shared_ptr<const FlagData> data,
             std::string source, std::chrono::system_clock::time_point now);
    // The data of `env_name` is still current (a 304): its age starts again.
    void confirm(const std::string& env_name, std::chrono::system_clock::time_point now);
    // A read or poll failed: the data is kept, the error shown.
    void set_error(const std::string& env_name, std::string source, std::string message);
    void set_shared_error(std::string message);
    // Forgets an environment's polled data (the environment was removed on SIGHUP).
    void forget(const std::string& env_name);

    // Null until there is any data for the environment.
    std::shared_ptr<const FlagData> get(const std::string& env_name) const;
    FlagDataStatus status(const std::string& env_name) const;

  private:
    struct Entry {
        std::shared_ptr<const FlagData> data;
        FlagDataStatus status;
    };
    static void fill(Entry& entry, std::shared_ptr<const FlagData> data, std::string source,
                     std::chrono::system_clock::time_point now);

    mutable std::mutex m_mutex;
    std::map<std::string, Entry, std::less<>> m_by_env;
    std::optional<Entry> m_shared;
};

} // namespace evrelay
