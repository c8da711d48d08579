#pragma once

#include "core/config/relay_config.hpp"
#include "core/model/environment.hpp"
#include "core/util/error.hpp"

#include <optional>
#include <string>
#include <vector>

namespace evrelay {

// Credentials and the environment choice given on the command line.
struct CredentialFlags {
    std::optional<std::string> sdk_key;
    std::optional<std::string> mobile_key;
    std::optional<std::string> env_id;
    std::optional<std::string> env_name; // --env NAME: an environment of the config
    bool any_credential() const { return sdk_key || mobile_key || env_id; }
};

struct ResolvedEnvironments {
    std::vector<Environment> environments;
    // The environment every event goes to when one was chosen by flags (--env, or credentials
    // alone, which make an environment named "default"); otherwise events keep their own.
    std::optional<std::string> target;
};

// SPEC §9: flags > environment variables > config file. `config` is already the merge of the
// file and the variables. With --env the named environment must exist and the credential flags
// override its credentials; credential flags without --env form the environment "default".
Result<ResolvedEnvironments> resolve_environments(const RelayConfig& config,
                                                  const CredentialFlags& flags);

} // namespace evrelay
