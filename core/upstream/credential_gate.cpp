#include "core/upstream/credential_gate.hpp"

namespace evrelay {

bool CredentialGate::admits(const std::string& env_name, SdkKind sdk, std::string_view credential) {
    if (m_closed.empty()) {
        return true; // the usual case: no key to build
    }
    const auto it = m_closed.find({env_name, sdk});
    if (it == m_closed.end()) {
        return true;
    }
    if (it->second == credential) {
        return false;
    }
    m_closed.erase(it);
    return true;
}

bool CredentialGate::reject(const std::string& env_name, SdkKind sdk,
                            const std::string& credential) {
    m_closed[{env_name, sdk}] = credential;
    return m_rejected.emplace(env_name, sdk, credential).second;
}

} // namespace evrelay
