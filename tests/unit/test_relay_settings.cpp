// The table of Relay's settings: the file and the variables read each setting alike.
#include "core/config/relay_settings.hpp"

#include <catch2/catch.hpp>

#include <cctype>
#include <map>
#include <set>

using namespace evrelay;

namespace {

Result<RelayConfig> from_variables(const std::map<std::string, std::string>& variables) {
    std::vector<std::string> names;
    for (const auto& [name, value] : variables) {
        names.push_back(name);
    }
    return relay_config_from_environment(
        names, [&](const std::string& name) -> std::optional<std::string> {
            const auto found = variables.find(name);
            if (found == variables.end()) {
                return std::nullopt;
            }
            return found->second;
        });
}

std::string lower(std::string_view text) {
    std::string out(text);
    for (auto& c : out) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

} // namespace

TEST_CASE("relay_settings: each setting's key and variable give the same configuration",
          "[config]") {
    // "1" is a valid value of every kind: a port, true, one second, a capacity, a text, a list.
    for (const auto& setting : relay_settings()) {
        INFO("[" << setting.section << "] " << setting.key << " / " << setting.variable);
        std::string file;
        std::map<std::string, std::string> variables;
        if (setting.per_environment) {
            // An environment needs a credential; the row under test may then replace it.
            file = "[Environment \"e\"]\nsdkKey = k\n" + std::string(setting.key) + " = 1\n";
            variables = {{"LD_ENV_e", "k"}};
            variables[std::string(setting.variable) + "e"] = "1";
        } else {
            file = "[" + std::string(setting.section) + "]\n" + std::string(setting.key) + " = 1\n";
            variables = {{std::string(setting.variable), "1"}};
        }
        const auto from_file = parse_relay_config(file, "test.conf");
        const auto from_environment = from_variables(variables);
        REQUIRE(from_file);
        REQUIRE(from_environment);
        CHECK(*from_file == *from_environment);
        CHECK_FALSE(*from_file == RelayConfig{});
    }
}

TEST_CASE("relay_settings: names are unique and per-environment rows are in [Environment]",
          "[config]") {
    std::set<std::string> keys;
    std::set<std::string> variables;
    for (const auto& setting : relay_settings()) {
        INFO(setting.key);
        CHECK(keys.insert(lower(setting.section) + "." + lower(setting.key)).second);
        CHECK(variables.insert(std::string(setting.variable)).second);
        CHECK(setting.per_environment == (setting.section == k_environment_section));
        CHECK(setting.store != nullptr);
        CHECK(setting.reset != nullptr);
    }
}
