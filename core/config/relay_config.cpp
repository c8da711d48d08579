#include "core/config/relay_config.hpp"

#include "core/util/duration.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

// POSIX declares it in <unistd.h> only with some feature macros; declaring it here is portable.
extern char** environ;

namespace evrelay {

namespace {

std::string to_lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string_view trim(std::string_view text) {
    const auto* blanks = " \t\r\n";
    const auto first = text.find_first_not_of(blanks);
    if (first == std::string_view::npos) {
        return {};
    }
    const auto last = text.find_last_not_of(blanks);
    return text.substr(first, last - first + 1);
}

// Relay's lists (allowedOrigin, caCertFiles, ...) may be written "a,b"; empty items are dropped
// so that a trailing comma is harmless.
void append_list(std::vector<std::string>& list, std::string_view text) {
    while (!text.empty()) {
        const auto comma = text.find(',');
        const auto item = trim(text.substr(0, comma));
        if (!item.empty()) {
            list.emplace_back(item);
        }
        if (comma == std::string_view::npos) {
            break;
        }
        text.remove_prefix(comma + 1);
    }
}

// gcfg and git accept these spellings; Relay documents only true/false/1/0 and treats an empty
// value as false, which this keeps.
std::optional<bool> parse_bool(std::string_view text) {
    const auto lower = to_lower(trim(text));
    if (lower == "true" || lower == "yes" || lower == "on" || lower == "1") {
        return true;
    }
    if (lower == "false" || lower == "no" || lower == "off" || lower == "0" || lower.empty()) {
        return false;
    }
    return std::nullopt;
}

template <class T> std::optional<T> parse_unsigned(std::string_view text) {
    text = trim(text);
    T value{};
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc() || ptr != end) {
        return std::nullopt;
    }
    return value;
}

// Each typed value check, shared by the file reader and the environment reader; `what` names
// the key or variable in the message.
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

Result<std::chrono::milliseconds> parse_flush_interval(std::string_view text,
                                                       std::string_view what) {
    auto value = util::parse_duration(trim(text));
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

Result<bool> parse_bool_value(std::string_view text, std::string_view what) {
    const auto value = parse_bool(text);
    if (!value) {
        return make_error(ErrorKind::config,
                          fmt::format("{}: \"{}\" is not a boolean (true/false, yes/no, on/off, "
                                      "1/0)",
                                      what, text));
    }
    return *value;
}

// An empty string means "not set", so that `eventsUri =` falls back to the default.
std::optional<std::string> optional_string(std::string value) {
    if (value.empty()) {
        return std::nullopt;
    }
    return value;
}

enum class SectionKind { none, main, events, environment, proxy, unknown };

SectionKind section_kind(std::string_view name) {
    const auto lower = to_lower(name);
    if (lower == "main") {
        return SectionKind::main;
    }
    if (lower == "events") {
        return SectionKind::events;
    }
    if (lower == "environment") {
        return SectionKind::environment;
    }
    if (lower == "proxy") {
        return SectionKind::proxy;
    }
    return SectionKind::unknown;
}

// A gcfg/git-config reader. Works on the whole text rather than on lines because a
// backslash-newline continues a value onto the next line.
class ConfigParser {
  public:
    ConfigParser(std::string_view text, const std::string& source)
        : m_text(text), m_source(source) {}

    Result<RelayConfig> parse() {
        while (!at_end()) {
            skip_blanks();
            if (at_end()) {
                break;
            }
            const char c = peek();
            if (c == '\n') {
                next_line();
            } else if (c == ';' || c == '#') {
                skip_to_end_of_line();
            } else if (c == '[') {
                if (auto ok = parse_section_header(); !ok) {
                    return tl::unexpected(ok.error());
                }
            } else if (std::isalpha(static_cast<unsigned char>(c))) {
                if (auto ok = parse_variable(); !ok) {
                    return tl::unexpected(ok.error());
                }
            } else {
                return fail("expected a [section], a key or a comment");
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
    bool at_end() const { return m_pos >= m_text.size(); }
    char peek() const { return m_text[m_pos]; }
    static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }
    static bool is_name_char(char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
    }

    void skip_blanks() {
        while (!at_end() && is_blank(peek())) {
            ++m_pos;
        }
    }
    void skip_to_end_of_line() {
        while (!at_end() && peek() != '\n') {
            ++m_pos;
        }
    }
    void next_line() {
        ++m_pos;
        ++m_line;
    }

    tl::unexpected<Error> fail_at(int line, std::string_view what) const {
        return make_error(ErrorKind::config, fmt::format("{}:{}: {}", m_source, line, what));
    }
    tl::unexpected<Error> fail(std::string_view what) const { return fail_at(m_line, what); }

    // After a header or a value: only blanks and a comment may follow on the line.
    Result<void> expect_end_of_line(std::string_view after) {
        skip_blanks();
        if (!at_end() && (peek() == ';' || peek() == '#')) {
            skip_to_end_of_line();
        }
        if (!at_end() && peek() != '\n') {
            return fail(fmt::format("unexpected text after {}", after));
        }
        return {};
    }

    Result<void> parse_section_header() {
        ++m_pos; // '['
        skip_blanks();
        const auto start = m_pos;
        while (!at_end() && (is_name_char(peek()) || peek() == '.')) {
            ++m_pos;
        }
        const std::string name(m_text.substr(start, m_pos - start));
        if (name.empty()) {
            return fail("section header has no name");
        }
        skip_blanks();
        std::optional<std::string> subsection;
        if (!at_end() && peek() == '"') {
            auto sub = parse_subsection();
            if (!sub) {
                return tl::unexpected(sub.error());
            }
            subsection = std::move(*sub);
            skip_blanks();
        }
        if (at_end() || peek() != ']') {
            return fail("unterminated section header (expected \"]\")");
        }
        ++m_pos;
        if (auto ok = expect_end_of_line("section header"); !ok) {
            return ok;
        }
        return enter_section(name, subsection);
    }

    Result<std::string> parse_subsection() {
        ++m_pos; // '"'
        std::string sub;
        while (true) {
            if (at_end() || peek() == '\n') {
                return fail("unterminated quote in section header");
            }
            const char c = peek();
            ++m_pos;
            if (c == '"') {
                return sub;
            }
            if (c == '\\') {
                if (at_end() || (peek() != '"' && peek() != '\\')) {
                    return fail("invalid escape in section name (only \\\" and \\\\)");
                }
                sub += peek();
                ++m_pos;
                continue;
            }
            sub += c;
        }
    }

    Result<void> enter_section(const std::string& name,
                               const std::optional<std::string>& subsection) {
        m_section = section_kind(name);
        m_section_name = name;
        if (m_section == SectionKind::unknown) {
            spdlog::debug("config: {}:{}: unknown section \"{}\" ignored", m_source, m_line, name);
            return {};
        }
        if (m_section == SectionKind::environment) {
            if (!subsection || subsection->empty()) {
                return fail("[Environment] needs a name: [Environment \"NAME\"]");
            }
            select_environment(*subsection);
            return {};
        }
        if (subsection) {
            return fail(fmt::format("section \"{}\" takes no name in quotes", name));
        }
        return {};
    }

    // Repeated [Environment "X"] sections add to the same environment, as gcfg does.
    void select_environment(const std::string& name) {
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
        m_environment_lines.push_back(m_line);
        m_environment = envs.size() - 1;
    }

    Result<void> parse_variable() {
        const auto start = m_pos;
        while (!at_end() && is_name_char(peek())) {
            ++m_pos;
        }
        const std::string key(m_text.substr(start, m_pos - start));
        const int key_line = m_line;
        skip_blanks();
        std::optional<std::string> value; // nullopt: no "=" (gcfg's "blank" value)
        if (!at_end() && peek() == '=') {
            ++m_pos;
            auto parsed = parse_value();
            if (!parsed) {
                return tl::unexpected(parsed.error());
            }
            value = std::move(*parsed);
        } else if (auto ok = expect_end_of_line(fmt::format("key \"{}\" (expected \"=\")", key));
                   !ok) {
            return ok;
        }
        if (m_section == SectionKind::none) {
            return fail_at(key_line, fmt::format("key \"{}\" is outside any [section]", key));
        }
        return apply(key, value, key_line);
    }

    // git-config value syntax: quoted and unquoted parts may alternate; outside quotes, blanks
    // at both ends are dropped and ';' or '#' start a comment; escapes work in both.
    Result<std::string> parse_value() {
        skip_blanks();
        std::string value;
        std::string pending_blanks; // kept only if more value text follows
        bool in_quotes = false;
        bool started = false;
        while (true) {
            if (at_end() || peek() == '\n') {
                if (in_quotes) {
                    return fail("unterminated quote");
                }
                return value;
            }
            const char c = peek();
            ++m_pos;
            if (!in_quotes && (c == ';' || c == '#')) {
                skip_to_end_of_line();
                return value;
            }
            if (!in_quotes && is_blank(c)) {
                if (started) {
                    pending_blanks += c;
                }
                continue;
            }
            if (!in_quotes) {
                value += pending_blanks;
                pending_blanks.clear();
                started = true;
            }
            if (c == '"') {
                in_quotes = !in_quotes;
                continue;
            }
            if (c == '\\') {
                auto escaped = parse_escape();
                if (!escaped) {
                    return tl::unexpected(escaped.error());
                }
                value += *escaped;
                continue;
            }
            value += c;
        }
    }

    // Returns the text an escape stands for; a backslash before a newline joins the lines.
    Result<std::string> parse_escape() {
        if (!at_end() && peek() == '\r' && m_pos + 1 < m_text.size() && m_text[m_pos + 1] == '\n') {
            ++m_pos;
        }
        if (at_end()) {
            return fail("backslash at end of file");
        }
        const char e = peek();
        ++m_pos;
        switch (e) {
        case '"':
            return std::string("\"");
        case '\\':
            return std::string("\\");
        case 'n':
            return std::string("\n");
        case 't':
            return std::string("\t");
        case '\n':
            ++m_line;
            return std::string();
        default:
            return fail(fmt::format("unknown escape \"\\{}\" (use \\\", \\\\, \\n or \\t)", e));
        }
    }

    // Wraps a typed check so that its message gains "FILE:LINE: ".
    template <class T> Result<T> located(Result<T> result, int line) const {
        if (!result) {
            return fail_at(line, result.error().message);
        }
        return result;
    }

    Result<void> apply(const std::string& key, const std::optional<std::string>& value, int line) {
        const auto lower = to_lower(key);
        const auto what = fmt::format("{}.{}", m_section_name, key);
        // Only booleans and lists may be written without "=": a bare boolean means true and
        // a bare list key empties the list (gcfg's rule).
        const auto need_value = [&]() -> Result<std::string> {
            if (!value) {
                return fail_at(line,
                               fmt::format("key \"{}\" needs a value (\"{} = ...\")", key, key));
            }
            return *value;
        };
        const auto set_bool = [&](std::optional<bool>& field) -> Result<void> {
            if (!value) {
                field = true;
                return {};
            }
            auto parsed = located(parse_bool_value(*value, what), line);
            if (!parsed) {
                return tl::unexpected(parsed.error());
            }
            field = *parsed;
            return {};
        };
        const auto add_list = [&](std::vector<std::string>& list) {
            if (!value) {
                list.clear();
            } else {
                append_list(list, *value);
            }
        };
        const auto set_string = [&](std::optional<std::string>& field) -> Result<void> {
            auto text = need_value();
            if (!text) {
                return tl::unexpected(text.error());
            }
            field = optional_string(std::move(*text));
            return {};
        };
        const auto set_env_string = [&](std::string& field) -> Result<void> {
            auto text = need_value();
            if (!text) {
                return tl::unexpected(text.error());
            }
            field = std::move(*text);
            return {};
        };

        switch (m_section) {
        case SectionKind::main:
            if (lower == "port") {
                auto text = need_value();
                if (!text) {
                    return tl::unexpected(text.error());
                }
                auto port = located(parse_port(*text, what), line);
                if (!port) {
                    return tl::unexpected(port.error());
                }
                m_config.port = *port;
                return {};
            }
            break;
        case SectionKind::events:
            if (lower == "sendevents") {
                return set_bool(m_config.send_events);
            }
            if (lower == "inlineusers") {
                return set_bool(m_config.inline_users);
            }
            if (lower == "eventsuri") {
                return set_string(m_config.events_uri);
            }
            if (lower == "flushinterval") {
                auto text = need_value();
                if (!text) {
                    return tl::unexpected(text.error());
                }
                auto interval = located(parse_flush_interval(*text, what), line);
                if (!interval) {
                    return tl::unexpected(interval.error());
                }
                m_config.flush_interval = *interval;
                return {};
            }
            if (lower == "capacity") {
                auto text = need_value();
                if (!text) {
                    return tl::unexpected(text.error());
                }
                auto capacity = located(parse_capacity(*text, what), line);
                if (!capacity) {
                    return tl::unexpected(capacity.error());
                }
                m_config.capacity = *capacity;
                return {};
            }
            break;
        case SectionKind::environment: {
            auto& env = m_config.environments[m_environment];
            if (lower == "sdkkey") {
                return set_env_string(env.sdk_key);
            }
            if (lower == "mobilekey") {
                return set_env_string(env.mobile_key);
            }
            if (lower == "envid") {
                return set_env_string(env.env_id);
            }
            if (lower == "allowedorigin") {
                add_list(env.allowed_origins);
                return {};
            }
            if (lower == "allowedheader") {
                add_list(env.allowed_headers);
                return {};
            }
            break;
        }
        case SectionKind::proxy:
            if (lower == "url") {
                return set_string(m_config.proxy_url);
            }
            if (lower == "user") {
                return set_string(m_config.proxy_user);
            }
            if (lower == "password") {
                return set_string(m_config.proxy_password);
            }
            if (lower == "cacertfiles") {
                add_list(m_config.ca_cert_files);
                return {};
            }
            break;
        case SectionKind::unknown:
            return {}; // already logged once for the section
        case SectionKind::none:
            break;
        }
        spdlog::debug("config: {}:{}: unknown key \"{}\" in section \"{}\" ignored", m_source, line,
                      key, m_section_name);
        return {};
    }

    std::string_view m_text;
    const std::string& m_source;
    std::size_t m_pos = 0;
    int m_line = 1;
    SectionKind m_section = SectionKind::none;
    std::string m_section_name;
    std::size_t m_environment = 0;
    std::vector<int> m_environment_lines; // header line of each environment, for messages
    RelayConfig m_config;
};

// Relay's per-environment variable families: the suffix after the prefix is the environment
// name, verbatim (underscores and dashes included).
struct EnvFamily {
    std::string_view prefix;
    enum class Field { sdk_key, mobile_key, env_id, allowed_origins, allowed_headers } field;
};

constexpr EnvFamily k_env_families[] = {
    {"LD_ENV_", EnvFamily::Field::sdk_key},
    {"LD_MOBILE_KEY_", EnvFamily::Field::mobile_key},
    {"LD_CLIENT_SIDE_ID_", EnvFamily::Field::env_id},
    {"LD_ALLOWED_ORIGIN_", EnvFamily::Field::allowed_origins},
    {"LD_ALLOWED_HEADER_", EnvFamily::Field::allowed_headers},
};

} // namespace

Result<RelayConfig> parse_relay_config(std::string_view text, const std::string& source_name) {
    return ConfigParser(text, source_name).parse();
}

Result<RelayConfig> read_relay_config_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return make_error(ErrorKind::io,
                          fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
    }
    std::ostringstream content;
    content << in.rdbuf();
    if (in.bad()) {
        return make_error(ErrorKind::io,
                          fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
    }
    return parse_relay_config(content.str(), path);
}

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

    if (auto v = lookup("PORT")) {
        auto port = parse_port(*v, "PORT");
        if (!port) {
            return tl::unexpected(port.error());
        }
        config.port = *port;
    }
    if (auto v = lookup("USE_EVENTS")) {
        auto b = parse_bool_value(*v, "USE_EVENTS");
        if (!b) {
            return tl::unexpected(b.error());
        }
        config.send_events = *b;
    }
    if (auto v = lookup("EVENTS_HOST")) {
        config.events_uri = *v;
    }
    if (auto v = lookup("EVENTS_FLUSH_INTERVAL")) {
        // util::parse_duration also takes Relay's older bare number of seconds.
        auto d = parse_flush_interval(*v, "EVENTS_FLUSH_INTERVAL");
        if (!d) {
            return tl::unexpected(d.error());
        }
        config.flush_interval = *d;
    }
    if (auto v = lookup("EVENTS_CAPACITY")) {
        auto c = parse_capacity(*v, "EVENTS_CAPACITY");
        if (!c) {
            return tl::unexpected(c.error());
        }
        config.capacity = *c;
    }
    if (auto v = lookup("EVENTS_INLINE_USERS")) {
        auto b = parse_bool_value(*v, "EVENTS_INLINE_USERS");
        if (!b) {
            return tl::unexpected(b.error());
        }
        config.inline_users = *b;
    }
    if (auto v = lookup("PROXY_URL")) {
        config.proxy_url = *v;
    }
    if (auto v = lookup("PROXY_AUTH_USER")) {
        config.proxy_user = *v;
    }
    if (auto v = lookup("PROXY_AUTH_PASSWORD")) {
        config.proxy_password = *v;
    }
    if (auto v = lookup("PROXY_CA_CERTS")) {
        append_list(config.ca_cert_files, *v);
    }

    // Keyed by name so the result does not depend on the order of `environ`.
    std::map<std::string, Environment> environments;
    for (const auto& name : names) {
        for (const auto& family : k_env_families) {
            if (name.size() < family.prefix.size() ||
                std::string_view(name).substr(0, family.prefix.size()) != family.prefix) {
                continue;
            }
            const auto env_name = name.substr(family.prefix.size());
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
            switch (family.field) {
            case EnvFamily::Field::sdk_key:
                env.sdk_key = *value;
                break;
            case EnvFamily::Field::mobile_key:
                env.mobile_key = *value;
                break;
            case EnvFamily::Field::env_id:
                env.env_id = *value;
                break;
            case EnvFamily::Field::allowed_origins:
                env.allowed_origins.clear(); // a repeated name in `names` must not duplicate
                append_list(env.allowed_origins, *value);
                break;
            case EnvFamily::Field::allowed_headers:
                env.allowed_headers.clear();
                append_list(env.allowed_headers, *value);
                break;
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

RelayConfig merge_relay_config(RelayConfig base, const RelayConfig& over) {
    const auto take = [](auto& field, const auto& other) {
        if (other) {
            field = other;
        }
    };
    take(base.port, over.port);
    take(base.send_events, over.send_events);
    take(base.events_uri, over.events_uri);
    take(base.flush_interval, over.flush_interval);
    take(base.capacity, over.capacity);
    take(base.inline_users, over.inline_users);
    take(base.proxy_url, over.proxy_url);
    take(base.proxy_user, over.proxy_user);
    take(base.proxy_password, over.proxy_password);
    if (!over.ca_cert_files.empty()) {
        base.ca_cert_files = over.ca_cert_files;
    }

    for (const auto& env : over.environments) {
        auto found = std::find_if(base.environments.begin(), base.environments.end(),
                                  [&](const Environment& e) { return e.name == env.name; });
        if (found == base.environments.end()) {
            base.environments.push_back(env);
            continue;
        }
        const auto replace = [](auto& field, const auto& other) {
            if (!other.empty()) {
                field = other;
            }
        };
        replace(found->sdk_key, env.sdk_key);
        replace(found->mobile_key, env.mobile_key);
        replace(found->env_id, env.env_id);
        replace(found->allowed_origins, env.allowed_origins);
        replace(found->allowed_headers, env.allowed_headers);
    }
    return base;
}

Result<void> check_relay_config(const RelayConfig& config) {
    for (const auto& env : config.environments) {
        if (env.sdk_key.empty() && env.mobile_key.empty() && env.env_id.empty()) {
            return make_error(ErrorKind::config,
                              fmt::format("environment \"{}\" has no credentials (SDK key, mobile "
                                          "key or client-side ID)",
                                          env.name));
        }
    }
    return {};
}

} // namespace evrelay
