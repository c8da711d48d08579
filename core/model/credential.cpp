#include "core/model/credential.hpp"

#include <algorithm>
#include <cctype>

namespace evrelay {

namespace {

constexpr std::string_view k_stars = "****";
constexpr std::size_t k_visible_tail = 4;
// Below this many secret characters the last four would be too large a share of the secret
// (or all of it), so nothing of it is shown.
constexpr std::size_t k_min_secret_for_tail = 8;

} // namespace

std::string_view to_string(CredentialKind kind) {
    switch (kind) {
    case CredentialKind::sdk_key:
        return "SDK key";
    case CredentialKind::mobile_key:
        return "mobile key";
    case CredentialKind::env_id:
        return "client-side ID";
    }
    return "credential";
}

CredentialKind credential_kind_for(SdkKind sdk) {
    switch (sdk) {
    case SdkKind::server:
        return CredentialKind::sdk_key;
    case SdkKind::mobile:
        return CredentialKind::mobile_key;
    case SdkKind::js:
        return CredentialKind::env_id;
    }
    return CredentialKind::sdk_key;
}

std::string mask_credential(std::string_view credential) {
    if (credential.size() < k_min_secret_for_tail) {
        return std::string(k_stars);
    }
    // Only the well-known key prefixes are kept: they say what kind of key it is and are not
    // secret. Anything else (client-side IDs, malformed keys) shows no prefix at all.
    std::string_view prefix;
    if (credential.starts_with("sdk-") || credential.starts_with("mob-")) {
        prefix = credential.substr(0, 4);
    }
    const std::string_view secret = credential.substr(prefix.size());
    std::string masked;
    masked.reserve(prefix.size() + k_stars.size() + k_visible_tail);
    masked.append(prefix);
    masked.append(k_stars);
    if (secret.size() >= k_min_secret_for_tail) {
        masked.append(secret.substr(secret.size() - k_visible_tail));
    }
    return masked;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    // Runs over the longer length whatever the contents, so neither the matching prefix nor
    // (cheaply) the length of the secret shows in the timing. Only the loop bound depends on
    // lengths; no branch depends on the bytes.
    const std::size_t length = std::max(a.size(), b.size());
    unsigned difference = a.size() == b.size() ? 0u : 1u;
    for (std::size_t i = 0; i < length; ++i) {
        const auto ca = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
        const auto cb = static_cast<unsigned char>(i < b.size() ? b[i] : 0);
        difference |= static_cast<unsigned>(ca ^ cb);
    }
    return difference == 0;
}

std::string_view strip_api_key_prefix(std::string_view authorization) {
    constexpr std::string_view k_prefix = "api_key ";
    if (authorization.size() < k_prefix.size()) {
        return authorization;
    }
    for (std::size_t i = 0; i < k_prefix.size(); ++i) {
        const auto c = static_cast<unsigned char>(authorization[i]);
        if (std::tolower(c) != k_prefix[i]) {
            return authorization;
        }
    }
    return authorization.substr(k_prefix.size());
}

} // namespace evrelay
