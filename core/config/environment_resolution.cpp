#include "core/config/environment_resolution.hpp"

#include <algorithm>

namespace evrelay {

namespace {

void apply_flags(Environment& environment, const CredentialFlags& flags) {
    if (flags.sdk_key) {
        environment.sdk_key = *flags.sdk_key;
    }
    if (flags.mobile_key) {
        environment.mobile_key = *flags.mobile_key;
    }
    if (flags.env_id) {
        environment.env_id = *flags.env_id;
    }
}

} // namespace

Result<ResolvedEnvironments> resolve_environments(const RelayConfig& config,
                                                  const CredentialFlags& flags) {
    ResolvedEnvironments resolved;
    resolved.environments = config.environments;
    if (flags.env_name) {
        auto it = std::find_if(resolved.environments.begin(), resolved.environments.end(),
                               [&](const Environment& e) { return e.name == *flags.env_name; });
        if (it == resolved.environments.end()) {
            if (!flags.any_credential()) {
                std::string known;
                for (const auto& environment : resolved.environments) {
                    known += (known.empty() ? "" : ", ") + ("\"" + environment.name + "\"");
                }
                return make_error(ErrorKind::config,
                                  "--env: no environment named \"" + *flags.env_name +
                                      "\" is configured" +
                                      (known.empty() ? std::string(" (no --config given?)")
                                                     : " (configured: " + known + ")"));
            }
            // Credentials on the command line may name their environment.
            Environment environment;
            environment.name = *flags.env_name;
            resolved.environments.push_back(environment);
            it = std::prev(resolved.environments.end());
        }
        apply_flags(*it, flags);
        resolved.target = it->name;
        return resolved;
    }
    if (flags.any_credential()) {
        auto it =
            std::find_if(resolved.environments.begin(), resolved.environments.end(),
                         [](const Environment& e) { return e.name == k_flag_environment_name; });
        if (it == resolved.environments.end()) {
            Environment environment;
            environment.name = k_flag_environment_name;
            resolved.environments.push_back(environment);
            it = std::prev(resolved.environments.end());
        }
        apply_flags(*it, flags);
        resolved.target = it->name;
    }
    return resolved;
}

} // namespace evrelay
