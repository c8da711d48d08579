#pragma once

#include "core/model/endpoint.hpp"

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

namespace evrelay {

// Which (environment, SDK kind) pairs the upstream rejected, and with which credential (SPEC §3):
// their payloads are not sent until the credential changes. Used by the sender's curl thread
// only: no lock.
class CredentialGate {
  public:
    // Whether an attempt for the pair with `credential` may go out. A pair closed to another
    // credential opens again: a reload changed it, and the new one gets its chance.
    bool admits(const std::string& env_name, SdkKind sdk, std::string_view credential);

    // Closes the pair to `credential`. Returns true the first time this credential of this pair
    // is rejected (so that it is logged once, also across reloads back to it).
    bool reject(const std::string& env_name, SdkKind sdk, const std::string& credential);

  private:
    std::map<std::pair<std::string, SdkKind>, std::string> m_closed; // → the rejected credential
    std::set<std::tuple<std::string, SdkKind, std::string>> m_rejected;
};

} // namespace evrelay
