#include "core/model/environment.hpp"

namespace evrelay {

const std::string& Environment::credential(SdkKind sdk) const {
    switch (sdk) {
    case SdkKind::server:
        return sdk_key;
    case SdkKind::mobile:
        return mobile_key;
    case SdkKind::js:
        return env_id;
    }
    return sdk_key;
}

namespace {

const std::string& credential_of(const Environment& environment, CredentialKind kind) {
    switch (kind) {
    case CredentialKind::sdk_key:
        return environment.sdk_key;
    case CredentialKind::mobile_key:
        return environment.mobile_key;
    case CredentialKind::env_id:
        return environment.env_id;
    }
    return environment.sdk_key;
}

} // namespace

EnvironmentTable::EnvironmentTable(std::vector<Environment> environments)
    : m_environments(std::move(environments)) {}

void EnvironmentTable::replace(std::vector<Environment> environments) {
    std::lock_guard lock(m_mutex);
    m_environments = std::move(environments);
    ++m_generation;
}

std::optional<Environment> EnvironmentTable::find_by_name(std::string_view name) const {
    std::lock_guard lock(m_mutex);
    for (const Environment& environment : m_environments) {
        if (environment.name == name) {
            return environment;
        }
    }
    return std::nullopt;
}

std::optional<Environment> EnvironmentTable::find_by_credential(CredentialKind kind,
                                                                std::string_view value) const {
    std::lock_guard lock(m_mutex);
    // Every entry is compared, even after a match, so the time taken says nothing about which
    // (or whether an) environment matched. An empty credential never matches: an environment
    // without a mobile key must not accept an empty Authorization.
    const Environment* found = nullptr;
    for (const Environment& environment : m_environments) {
        const std::string& credential = credential_of(environment, kind);
        const bool equal = constant_time_equal(credential, value);
        if (equal && !credential.empty() && found == nullptr) {
            found = &environment;
        }
    }
    if (found == nullptr) {
        return std::nullopt;
    }
    return *found;
}

std::vector<Environment> EnvironmentTable::all() const {
    std::lock_guard lock(m_mutex);
    return m_environments;
}

std::uint64_t EnvironmentTable::generation() const {
    std::lock_guard lock(m_mutex);
    return m_generation;
}

} // namespace evrelay
