#pragma once

#include "core/config/relay_config.hpp"
#include "core/model/environment.hpp"
#include "core/util/error.hpp"

#include <span>
#include <string_view>

namespace evrelay {

// Where a setting's value goes: the whole configuration, or the environment being read (a
// [Environment "NAME"] section, or the NAME of an LD_*_NAME variable).
struct SettingTarget {
    RelayConfig& config;
    Environment* environment = nullptr; // set for per-environment settings
};

// What a file key written without "=" means (gcfg's rule).
enum class BareKey {
    needs_value, // an error: "key needs a value"
    means_true,  // booleans
    empties,     // lists: the list is emptied, later keys add to it again
};

// One setting of Relay 6, from its file and from its variables (SPEC §9), and what evrelay does
// with it: honoured (parsed and stored in RelayConfig) or ignored (recorded in
// RelayConfig::ignored with the reason, so that ignored_settings() can name it in a warning).
struct RelaySetting {
    std::string_view section;  // [Section] of the file ("Environment": one per environment)
    std::string_view key;      // the key in that section (matched ignoring case); "" = none:
                               // a variable-only setting (USE_REDIS), or, with no variable
                               // either, a section evrelay ignores whole ([OpenCensus])
    std::string_view variable; // Relay's variable ("" = none); per environment, or when
                               // variable_is_prefix, the prefix before a name (LD_ENV_<name>)
    bool per_environment = false;
    bool variable_is_prefix = false; // per-environment rows and DATADOG_TAG_<name>
    BareKey bare = BareKey::needs_value;
    IgnoredBecause ignored_because = IgnoredBecause::honoured;
    // Parses `text` and stores it: a list adds its comma-separated items, anything else replaces
    // the value; an ignored setting records `what` in RelayConfig::ignored (a boolean one only
    // when true: false asks for nothing evrelay does not do). `what` names the key or variable
    // in an error message.
    Result<void> (*store)(SettingTarget target, std::string_view text, std::string_view what);
    // Unsets the value (a list: empties it); does nothing for an ignored setting.
    void (*reset)(SettingTarget target);

    bool honoured() const { return ignored_because == IgnoredBecause::honoured; }
};

// Every setting of Relay 6: [Main], [Events], [Environment], [Proxy], [Prometheus], then the
// sections evrelay ignores. The README's table of Relay's settings lists the same rows (a unit
// test compares them).
std::span<const RelaySetting> relay_settings();

// The section every per-environment setting is in.
inline constexpr std::string_view k_environment_section = "Environment";

// Relay's section and key names are matched ignoring (ASCII) case.
bool equals_ignoring_case(std::string_view a, std::string_view b);

} // namespace evrelay
