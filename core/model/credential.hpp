#pragma once

#include "core/model/endpoint.hpp"

#include <string>
#include <string_view>

namespace evrelay {

enum class CredentialKind { sdk_key, mobile_key, env_id };

std::string_view to_string(CredentialKind kind); // "SDK key", "mobile key", "client-side ID"

// The credential an SDK kind authenticates with (server → SDK key, mobile → mobile key,
// js → client-side ID).
CredentialKind credential_kind_for(SdkKind sdk);

// "sdk-****1234": the prefix up to the first '-' and the last four characters; short secrets
// are fully starred. Client-side IDs are public but are masked the same way for uniformity.
std::string mask_credential(std::string_view credential);

// Compares without an early exit, so the time taken does not reveal how much of a secret matched.
bool constant_time_equal(std::string_view a, std::string_view b);

// Removes an optional "api_key " prefix from an Authorization header value (SPEC §4).
std::string_view strip_api_key_prefix(std::string_view authorization);

} // namespace evrelay
