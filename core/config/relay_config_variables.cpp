// Relay's environment variables, read through the table of settings (relay_settings.hpp).
#include "core/config/relay_config.hpp"
#include "core/config/relay_settings.hpp"

#include <spdlog/fmt/fmt.h>

#include <cstdlib>
#include <map>

// POSIX declares it in <unistd.h> only with some feature macros; declaring it here is portable.
extern char** environ;

namespace evrelay {

Result<RelayConfig> relay_config_from_environment(const std::vector<std::string>& names,
                                                  const EnvLookup& getenv) {
    RelayConfig config;
    // An empty variable counts as unset, as in Relay, so `PORT=` in a compose file is harmless.
    const auto lookup = [&](const std::string& name) -> std::optional<std::string> {
        auto value = getenv(name);
        if (!value || value->empty()) {
            return std::nullopt;
        }
        return value;
    };

    for (const auto& setting : relay_settings()) {
        if (setting.variable.empty()) {
            continue;
        }
        if (!setting.honoured()) {
            // Recorded (once, by the name it was given) without creating an environment.
            const auto record = [&](const std::string& name) -> Result<void> {
                if (const auto value = lookup(name)) {
                    return setting.store(SettingTarget{config}, *value, name);
                }
                return {};
            };
            std::vector<std::string> given;
            if (!setting.variable_is_prefix) {
                given.emplace_back(setting.variable);
            }
            for (const auto& name : names) {
                if (setting.variable_is_prefix && name.size() > setting.variable.size() &&
                    name.starts_with(setting.variable)) {
                    given.push_back(name);
                }
            }
            for (const auto& name : given) {
                if (auto recorded = record(name); !recorded) {
                    return tl::unexpected(recorded.error());
                }
            }
            continue;
        }
        if (setting.per_environment) {
            continue;
        }
        const std::string name(setting.variable);
        if (const auto value = lookup(name)) {
            if (auto stored = setting.store(SettingTarget{config}, *value, name); !stored) {
                return tl::unexpected(stored.error());
            }
        }
    }

    // Keyed by name so the result does not depend on the order of `environ`.
    std::map<std::string, Environment> environments;
    for (const auto& name : names) {
        for (const auto& setting : relay_settings()) {
            if (!setting.honoured() || !setting.per_environment ||
                !std::string_view(name).starts_with(setting.variable)) {
                continue;
            }
            const auto env_name = name.substr(setting.variable.size());
            if (env_name.empty()) {
                return make_error(ErrorKind::config,
                                  fmt::format("{}: no environment name after the prefix", name));
            }
            const auto value = lookup(name);
            if (!value) {
                continue;
            }
            auto& env = environments[env_name];
            env.name = env_name;
            const SettingTarget target{config, &env};
            setting.reset(target); // a repeated name in `names` must not add to a list twice
            if (auto stored = setting.store(target, *value, name); !stored) {
                return tl::unexpected(stored.error());
            }
        }
    }
    for (auto& [name, env] : environments) {
        config.environments.push_back(std::move(env));
    }
    return config;
}

Result<RelayConfig> relay_config_from_process_environment() {
    std::vector<std::string> names;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        const std::string_view text(*entry);
        names.emplace_back(text.substr(0, text.find('=')));
    }
    return relay_config_from_environment(names,
                                         [](const std::string& name) -> std::optional<std::string> {
                                             const char* value = std::getenv(name.c_str());
                                             if (value == nullptr) {
                                                 return std::nullopt;
                                             }
                                             return std::string(value);
                                         });
}

} // namespace evrelay
