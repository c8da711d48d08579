// Relay's configuration (core/config): the git-config style file parser (util::GcfgReader and the
// settings table) and the environment-variable reader, on any bytes:
//
//   the config file's text, up to a line "--variables--", then NAME=VALUE lines (a line without
//   '=' is a name that is set to nothing)
//
// A refused file says so with its name and line ("fuzz.conf:N: ..."), and so does a refused
// variable with its name. What is read merges with nothing into itself; every environment of a
// file has a credential; what becomes an HTTP header (credentials, allowed origins and headers)
// holds no control character; resolving the environments without flags works.

#include "tests/fuzz/fuzz_support.hpp"
#include "tests/fuzz/upstream_headers.hpp"

#include "core/config/environment_resolution.hpp"
#include "core/config/relay_config.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

using namespace evrelay;

namespace {

constexpr std::string_view k_separator = "--variables--\n";
const std::string k_source = "fuzz.conf";

void check_config(const RelayConfig& config, const char* from) {
    FUZZ_CHECK(merge_relay_config(config, RelayConfig{}) == config,
               std::string(from) + ": merging nothing into it changes it");
    for (const Environment& env : config.environments) {
        const std::string what = std::string(from) + ": environment \"" + env.name + "\" ";
        for (const std::string* value : {&env.sdk_key, &env.mobile_key, &env.env_id}) {
            FUZZ_CHECK(fuzz::is_field_value(*value),
                       what + "has a credential that cannot be a header: " + *value);
        }
        for (const auto* list : {&env.allowed_origins, &env.allowed_headers}) {
            for (const std::string& value : *list) {
                FUZZ_CHECK(fuzz::is_field_value(value),
                           what + "has a CORS value that cannot be a header: " + value);
            }
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const bool quiet = (fuzz::quiet_logs(), true);
    (void)quiet;
    std::string_view input = fuzz::as_text(data, size);
    const std::string_view file = fuzz::take_until(input, k_separator);

    const Result<RelayConfig> from_file = parse_relay_config(file, k_source);
    if (!from_file) {
        FUZZ_CHECK(from_file.error().message.starts_with(k_source + ":"),
                   "a refused config file is not named with its line: " +
                       from_file.error().message);
    } else {
        check_config(*from_file, "file");
        for (const Environment& env : from_file->environments) {
            FUZZ_CHECK(!env.sdk_key.empty() || !env.mobile_key.empty() || !env.env_id.empty(),
                       "a file environment without a credential is accepted");
        }
    }

    std::vector<std::string> names;
    std::map<std::string, std::string> values;
    while (!input.empty()) {
        const std::string_view line = fuzz::take_until(input, "\n");
        const std::size_t equals = line.find('=');
        const std::string name(line.substr(0, equals));
        names.push_back(name);
        values[name] = equals == std::string_view::npos ? "" : std::string(line.substr(equals + 1));
    }
    const Result<RelayConfig> from_variables = relay_config_from_environment(
        names, [&](const std::string& name) -> std::optional<std::string> {
            const auto found = values.find(name);
            if (found == values.end()) {
                return std::nullopt;
            }
            return found->second;
        });
    if (!from_variables) {
        FUZZ_CHECK(!from_variables.error().message.empty(), "a refused variable without a message");
        return 0;
    }
    check_config(*from_variables, "variables");
    if (!from_file) {
        return 0;
    }
    const RelayConfig merged = merge_relay_config(*from_file, *from_variables);
    check_config(merged, "merged");
    if (check_relay_config(merged)) {
        const Result<ResolvedEnvironments> resolved = resolve_environments(merged, {});
        if (resolved) {
            FUZZ_CHECK(resolved->environments.size() == merged.environments.size() &&
                           !resolved->target.has_value(),
                       "resolving without flags changes the environments");
        }
    }
    return 0;
}
