#pragma once

#include "core/model/credential.hpp"
#include "core/model/endpoint.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace evrelay {

// One LaunchDarkly environment as the configuration names it.
struct Environment {
    std::string name;
    std::string sdk_key;
    std::string mobile_key;
    std::string env_id;
    std::vector<std::string> allowed_origins;
    std::vector<std::string> allowed_headers;

    // The credential for an SDK kind, or empty when the environment has none of that kind.
    const std::string& credential(SdkKind sdk) const;
    bool operator==(const Environment&) const = default;
};

// The current environments, shared by the inbound side (which looks credentials up) and the
// sender (which reads the current credential at every attempt, so a reload applies to retries
// not yet started — SPEC §3). Thread-safe: readers copy what they need under a mutex.
class EnvironmentTable {
  public:
    EnvironmentTable() = default;
    explicit EnvironmentTable(std::vector<Environment> environments);

    void replace(std::vector<Environment> environments);
    std::optional<Environment> find_by_name(std::string_view name) const;
    // Constant-time comparison against every configured credential of that kind.
    std::optional<Environment> find_by_credential(CredentialKind kind,
                                                  std::string_view value) const;
    std::vector<Environment> all() const;
    // Bumped by every replace(); lets the sender notice that credentials may have changed.
    std::uint64_t generation() const;

  private:
    mutable std::mutex m_mutex;
    std::vector<Environment> m_environments;
    std::uint64_t m_generation = 0;
};

inline constexpr const char* k_flag_environment_name = "default";

} // namespace evrelay
