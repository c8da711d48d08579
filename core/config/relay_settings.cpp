#include "core/config/relay_settings.hpp"

#include "core/util/ascii.hpp"
#include "core/util/duration.hpp"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace evrelay {

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    return util::iequals(a, b);
}

namespace {

std::string to_lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](char c) { return util::to_lower(c); });
    return out;
}

template <class T> std::optional<T> parse_unsigned(std::string_view text) {
    text = util::trim(text);
    T value{};
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc() || ptr != end) {
        return std::nullopt;
    }
    return value;
}

// The parsers of the table: each checks one kind of value; `what` names the key or variable.

Result<int> parse_port(std::string_view text, std::string_view what) {
    const auto value = parse_unsigned<unsigned>(text);
    if (!value || *value > 65535) {
        return make_error(ErrorKind::config,
                          fmt::format("{}: \"{}\" is not a port number (0-65535)", what, text));
    }
    return static_cast<int>(*value);
}

Result<std::size_t> parse_capacity(std::string_view text, std::string_view what) {
    const auto value = parse_unsigned<std::size_t>(text);
    if (!value || *value == 0) {
        return make_error(ErrorKind::config,
                          fmt::format("{}: \"{}\" is not a positive whole number", what, text));
    }
    return *value;
}

// util::parse_duration also takes Relay's older bare number of seconds.
Result<std::chrono::milliseconds> parse_flush_interval(std::string_view text,
                                                       std::string_view what) {
    auto value = util::parse_duration(util::trim(text));
    if (!value) {
        return make_error(ErrorKind::config, fmt::format("{}: \"{}\" is not a duration ({})", what,
                                                         text, value.error().message));
    }
    // A zero interval would make the publisher flush in a busy loop.
    if (value->count() <= 0) {
        return make_error(ErrorKind::config,
                          fmt::format("{}: \"{}\" must be longer than zero", what, text));
    }
    return *value;
}

// gcfg and git accept these spellings; Relay documents only true/false/1/0 and treats an empty
// value as false, which this keeps.
Result<bool> parse_boolean(std::string_view text, std::string_view what) {
    const auto lower = to_lower(util::trim(text));
    if (lower == "true" || lower == "yes" || lower == "on" || lower == "1") {
        return true;
    }
    if (lower == "false" || lower == "no" || lower == "off" || lower == "0" || lower.empty()) {
        return false;
    }
    return make_error(
        ErrorKind::config,
        fmt::format("{}: \"{}\" is not a boolean (true/false, yes/no, on/off, 1/0)", what, text));
}

// An empty string means "not set", so that `eventsUri =` falls back to the default.
Result<std::optional<std::string>> parse_optional_text(std::string_view text, std::string_view) {
    if (text.empty()) {
        return std::nullopt;
    }
    return std::string(text);
}

// A credential: kept as written, even empty (check_relay_config then finds an environment
// without one).
Result<std::string> parse_text(std::string_view text, std::string_view) {
    return std::string(text);
}

// Relay's lists (allowedOrigin, caCertFiles, ...) may be written "a,b"; empty items are dropped
// so that a trailing comma is harmless.
Result<std::vector<std::string>> parse_list(std::string_view text, std::string_view) {
    std::vector<std::string> list;
    while (!text.empty()) {
        const auto comma = text.find(',');
        const auto item = util::trim(text.substr(0, comma));
        if (!item.empty()) {
            list.emplace_back(item);
        }
        if (comma == std::string_view::npos) {
            break;
        }
        text.remove_prefix(comma + 1);
    }
    return list;
}

template <class T> struct IsVector : std::false_type {};
template <class T> struct IsVector<std::vector<T>> : std::true_type {};

template <class Member, class Owner> Owner owner_of(Member Owner::*);

// The field `field` (a pointer to a member of RelayConfig or of Environment) of a target.
template <auto field> auto& field_of(SettingTarget target) {
    using Owner = decltype(owner_of(field));
    if constexpr (std::is_same_v<Owner, RelayConfig>) {
        return target.config.*field;
    } else {
        static_assert(std::is_same_v<Owner, Environment>);
        return target.environment->*field;
    }
}

template <auto field, auto parse>
Result<void> store(SettingTarget target, std::string_view text, std::string_view what) {
    auto value = parse(text, what);
    if (!value) {
        return tl::unexpected(value.error());
    }
    auto& destination = field_of<field>(target);
    if constexpr (IsVector<std::remove_reference_t<decltype(destination)>>::value) {
        destination.insert(destination.end(), std::make_move_iterator(value->begin()),
                           std::make_move_iterator(value->end()));
    } else {
        destination = std::move(*value);
    }
    return {};
}

template <auto field> void reset(SettingTarget target) {
    field_of<field>(target) = {};
}

// One row of the table: the type of `field` says whether it is per environment and what a bare
// key means; `parse` must give what the field holds.
template <auto field, auto parse>
constexpr RelaySetting setting(std::string_view section, std::string_view key,
                               std::string_view variable) {
    using Owner = decltype(owner_of(field));
    using Field = std::remove_reference_t<decltype(field_of<field>(std::declval<SettingTarget>()))>;
    BareKey bare = BareKey::needs_value;
    if constexpr (std::is_same_v<Field, std::optional<bool>>) {
        bare = BareKey::means_true;
    } else if constexpr (IsVector<Field>::value) {
        bare = BareKey::empties;
    }
    return RelaySetting{.section = section,
                        .key = key,
                        .variable = variable,
                        .per_environment = std::is_same_v<Owner, Environment>,
                        .bare = bare,
                        .store = &store<field, parse>,
                        .reset = &reset<field>};
}

// Relay's names (SPEC §9): a file key is written under its [Section]; the variable of an
// environment's setting is its prefix followed by the environment's name, verbatim (underscores
// and dashes included).
constexpr RelaySetting k_settings[] = {
    setting<&RelayConfig::port, parse_port>("Main", "port", "PORT"),
    setting<&RelayConfig::send_events, parse_boolean>("Events", "sendEvents", "USE_EVENTS"),
    setting<&RelayConfig::events_uri, parse_optional_text>("Events", "eventsUri", "EVENTS_HOST"),
    setting<&RelayConfig::flush_interval, parse_flush_interval>("Events", "flushInterval",
                                                                "EVENTS_FLUSH_INTERVAL"),
    setting<&RelayConfig::capacity, parse_capacity>("Events", "capacity", "EVENTS_CAPACITY"),
    setting<&RelayConfig::inline_users, parse_boolean>("Events", "inlineUsers",
                                                       "EVENTS_INLINE_USERS"),
    setting<&Environment::sdk_key, parse_text>(k_environment_section, "sdkKey", "LD_ENV_"),
    setting<&Environment::mobile_key, parse_text>(k_environment_section, "mobileKey",
                                                  "LD_MOBILE_KEY_"),
    setting<&Environment::env_id, parse_text>(k_environment_section, "envId", "LD_CLIENT_SIDE_ID_"),
    setting<&Environment::allowed_origins, parse_list>(k_environment_section, "allowedOrigin",
                                                       "LD_ALLOWED_ORIGIN_"),
    setting<&Environment::allowed_headers, parse_list>(k_environment_section, "allowedHeader",
                                                       "LD_ALLOWED_HEADER_"),
    setting<&RelayConfig::proxy_url, parse_optional_text>("Proxy", "url", "PROXY_URL"),
    setting<&RelayConfig::proxy_user, parse_optional_text>("Proxy", "user", "PROXY_AUTH_USER"),
    setting<&RelayConfig::proxy_password, parse_optional_text>("Proxy", "password",
                                                               "PROXY_AUTH_PASSWORD"),
    setting<&RelayConfig::proxy_domain, parse_optional_text>("Proxy", "domain",
                                                             "PROXY_AUTH_DOMAIN"),
    setting<&RelayConfig::proxy_ntlm_auth, parse_boolean>("Proxy", "ntlmAuth", "PROXY_AUTH_NTLM"),
    setting<&RelayConfig::ca_cert_files, parse_list>("Proxy", "caCertFiles", "PROXY_CA_CERTS"),
};

} // namespace

std::span<const RelaySetting> relay_settings() {
    return k_settings;
}

} // namespace evrelay
