// Relay's configuration file: gcfg entries (util::GcfgReader) applied through the table of
// settings (relay_settings.hpp).
#include "core/config/relay_config.hpp"
#include "core/config/relay_settings.hpp"
#include "core/util/file_contents.hpp"
#include "core/util/gcfg_reader.hpp"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <optional>

namespace evrelay {

namespace {

class RelayConfigFile {
  public:
    RelayConfigFile(std::string_view text, const std::string& source) : m_reader(text, source) {}

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

    // The rows of a section: none for a section Relay 6 does not have.
    static std::vector<const RelaySetting*> rows_of(std::string_view section) {
        std::vector<const RelaySetting*> rows;
        for (const auto& setting : relay_settings()) {
            if (equals_ignoring_case(setting.section, section)) {
                rows.push_back(&setting);
            }
        }
        return rows;
    }

    // Named once however often the file repeats it.
    void ignore(std::string name, IgnoredBecause reason) {
        auto& ignored = m_config.ignored;
        if (std::none_of(ignored.begin(), ignored.end(),
                         [&](const IgnoredSetting& known) { return known.name == name; })) {
            ignored.push_back(IgnoredSetting{std::move(name), reason});
        }
    }

    Result<void> enter_section(const util::GcfgEntry& header) {
        m_section_name = header.section;
        const auto rows = rows_of(header.section);
        m_section_known = !rows.empty();
        // A section evrelay ignores whole gives its reason to keys the table does not list.
        m_section_reason = std::nullopt;
        if (m_section_known && !rows.front()->honoured() &&
            std::all_of(rows.begin(), rows.end(), [&](const RelaySetting* row) {
                return row->ignored_because == rows.front()->ignored_because;
            })) {
            m_section_reason = rows.front()->ignored_because;
        }
        if (!m_section_known) {
            ignore(header.subsection
                       ? fmt::format("[{} \"{}\"]", header.section, *header.subsection)
                       : fmt::format("[{}]", header.section),
                   IgnoredBecause::unknown);
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

    // "[Main] port", "[Environment \"prod\"] sdkKey": a key as messages and warnings name it.
    std::string name_of(std::string_view section, std::string_view key) const {
        if (equals_ignoring_case(section, k_environment_section)) {
            return fmt::format("[{} \"{}\"] {}", section, m_config.environments[m_environment].name,
                               key);
        }
        return fmt::format("[{}] {}", section, key);
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
            if (!setting.key.empty() && equals_ignoring_case(setting.section, m_section_name) &&
                equals_ignoring_case(setting.key, key)) {
                return &setting;
            }
        }
        return nullptr;
    }

    Result<void> apply(const util::GcfgEntry& variable) {
        if (!m_section_known) {
            return {}; // the section is named once, as a whole
        }
        const RelaySetting* setting = find_setting(variable.key);
        if (setting == nullptr) {
            ignore(name_of(m_section_name, variable.key),
                   m_section_reason.value_or(IgnoredBecause::unknown));
            return {};
        }
        const SettingTarget target{
            m_config, setting->per_environment ? &m_config.environments[m_environment] : nullptr};
        if (!variable.value) {
            // Only booleans and lists may be written without "=": a bare boolean means true and
            // a bare list key empties the list (gcfg's rule).
            switch (setting->bare) {
            case BareKey::means_true:
                return setting->store(target, "true", name_of(setting->section, setting->key));
            case BareKey::empties:
                setting->reset(target);
                return {};
            case BareKey::needs_value:
                break;
            }
            return fail_at(variable.line, fmt::format("key \"{}\" needs a value (\"{} = ...\")",
                                                      variable.key, variable.key));
        }
        const auto stored =
            setting->store(target, *variable.value, name_of(setting->section, setting->key));
        if (!stored) {
            return fail_at(variable.line, stored.error().message);
        }
        return {};
    }

    util::GcfgReader m_reader;
    std::string m_section_name;
    bool m_section_known = false;
    std::optional<IgnoredBecause> m_section_reason; // the section's rows all have this reason
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
