// Relay's configuration file: gcfg entries (util::GcfgReader) applied through the table of
// settings (relay_settings.hpp).
#include "core/config/relay_config.hpp"
#include "core/config/relay_settings.hpp"
#include "core/util/file_contents.hpp"
#include "core/util/gcfg_reader.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace evrelay {

namespace {

class RelayConfigFile {
  public:
    RelayConfigFile(std::string_view text, const std::string& source)
        : m_reader(text, source), m_source(source) {}

    Result<RelayConfig> read() {
        while (true) {
            auto entry = m_reader.next();
            if (!entry) {
                return make_error(ErrorKind::config, entry.error().message);
            }
            if (!*entry) {
                break;
            }
            const auto applied = (*entry)->kind == util::GcfgEntry::Kind::section
                                     ? enter_section(**entry)
                                     : apply(**entry);
            if (!applied) {
                return tl::unexpected(applied.error());
            }
        }
        for (std::size_t i = 0; i < m_config.environments.size(); ++i) {
            const auto& env = m_config.environments[i];
            if (env.sdk_key.empty() && env.mobile_key.empty() && env.env_id.empty()) {
                return fail_at(m_environment_lines[i],
                               fmt::format("environment \"{}\" has no credentials (sdkKey, "
                                           "mobileKey or envId)",
                                           env.name));
            }
        }
        return std::move(m_config);
    }

  private:
    tl::unexpected<Error> fail_at(int line, std::string_view what) const {
        return make_error(ErrorKind::config, m_reader.located(line, what));
    }

    static bool is_known_section(std::string_view name) {
        const auto settings = relay_settings();
        return std::any_of(settings.begin(), settings.end(), [&](const RelaySetting& setting) {
            return equals_ignoring_case(setting.section, name);
        });
    }

    Result<void> enter_section(const util::GcfgEntry& header) {
        m_section_name = header.section;
        m_section_known = is_known_section(header.section);
        if (!m_section_known) {
            spdlog::debug("config: {}:{}: unknown section \"{}\" ignored", m_source, header.line,
                          header.section);
            return {};
        }
        if (equals_ignoring_case(header.section, k_environment_section)) {
            if (!header.subsection || header.subsection->empty()) {
                return fail_at(header.line, "[Environment] needs a name: [Environment \"NAME\"]");
            }
            select_environment(*header.subsection, header.line);
            return {};
        }
        if (header.subsection) {
            return fail_at(header.line,
                           fmt::format("section \"{}\" takes no name in quotes", header.section));
        }
        return {};
    }

    // Repeated [Environment "X"] sections add to the same environment, as gcfg does.
    void select_environment(const std::string& name, int line) {
        auto& envs = m_config.environments;
        const auto found = std::find_if(envs.begin(), envs.end(),
                                        [&](const Environment& e) { return e.name == name; });
        if (found != envs.end()) {
            m_environment = static_cast<std::size_t>(found - envs.begin());
            return;
        }
        Environment env;
        env.name = name;
        envs.push_back(std::move(env));
        m_environment_lines.push_back(line);
        m_environment = envs.size() - 1;
    }

    const RelaySetting* find_setting(std::string_view key) const {
        for (const auto& setting : relay_settings()) {
            if (equals_ignoring_case(setting.section, m_section_name) &&
                equals_ignoring_case(setting.key, key)) {
                return &setting;
            }
        }
        return nullptr;
    }

    Result<void> apply(const util::GcfgEntry& variable) {
        if (!m_section_known) {
            return {}; // already logged once for the section
        }
        const RelaySetting* setting = find_setting(variable.key);
        if (setting == nullptr) {
            spdlog::debug("config: {}:{}: unknown key \"{}\" in section \"{}\" ignored", m_source,
                          variable.line, variable.key, m_section_name);
            return {};
        }
        const SettingTarget target{
            m_config, setting->per_environment ? &m_config.environments[m_environment] : nullptr};
        if (!variable.value) {
            // Only booleans and lists may be written without "=": a bare boolean means true and
            // a bare list key empties the list (gcfg's rule).
            switch (setting->bare) {
            case BareKey::means_true:
                return setting->store(target, "true", variable.key);
            case BareKey::empties:
                setting->reset(target);
                return {};
            case BareKey::needs_value:
                break;
            }
            return fail_at(variable.line, fmt::format("key \"{}\" needs a value (\"{} = ...\")",
                                                      variable.key, variable.key));
        }
        const auto stored = setting->store(target, *variable.value,
                                           fmt::format("{}.{}", m_section_name, variable.key));
        if (!stored) {
            return fail_at(variable.line, stored.error().message);
        }
        return {};
    }

    util::GcfgReader m_reader;
    const std::string& m_source;
    std::string m_section_name;
    bool m_section_known = false;
    std::size_t m_environment = 0;
    std::vector<int> m_environment_lines; // header line of each environment, for messages
    RelayConfig m_config;
};

} // namespace

Result<RelayConfig> parse_relay_config(std::string_view text, const std::string& source_name) {
    return RelayConfigFile(text, source_name).read();
}

Result<RelayConfig> read_relay_config_file(const std::string& path) {
    Result<std::string> content = util::read_file_contents(path);
    if (!content) {
        return tl::unexpected(std::move(content.error()));
    }
    return parse_relay_config(*content, path);
}

} // namespace evrelay
