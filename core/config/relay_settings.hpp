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

// One setting Relay reads, from its file and from its variables (SPEC §9).
struct RelaySetting {
    std::string_view section;  // [Section] of the file ("Environment": one per environment)
    std::string_view key;      // the key in that section (matched ignoring case)
    std::string_view variable; // Relay's variable; per environment, the prefix before the NAME
    bool per_environment = false;
    BareKey bare = BareKey::needs_value;
    // Parses `text` and stores it: a list adds its comma-separated items, anything else replaces
    // the value. `what` names the key or variable in an error message.
    Result<void> (*store)(SettingTarget target, std::string_view text, std::string_view what);
    // Unsets the value (a list: empties it).
    void (*reset)(SettingTarget target);
};

// Every setting, in the order of SPEC §9: [Main], [Events], [Environment], [Proxy].
std::span<const RelaySetting> relay_settings();

// The section every per-environment setting is in.
inline constexpr std::string_view k_environment_section = "Environment";

// Relay's section and key names are matched ignoring (ASCII) case.
bool equals_ignoring_case(std::string_view a, std::string_view b);

} // namespace evrelay
