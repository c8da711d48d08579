#include "core/util/gcfg_reader.hpp"

#include <spdlog/fmt/fmt.h>

#include <cctype>

namespace evrelay::util {

namespace {

bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r';
}

bool is_name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
}

} // namespace

GcfgReader::GcfgReader(std::string_view text, std::string source_name)
    : m_text(text), m_source(std::move(source_name)) {}

std::string GcfgReader::located(int line, std::string_view what) const {
    return fmt::format("{}:{}: {}", m_source, line, what);
}

// Works on the whole text rather than on lines because a backslash-newline continues a value
// onto the next line.
Result<std::optional<GcfgEntry>> GcfgReader::next() {
    while (!at_end()) {
        skip_blanks();
        if (at_end()) {
            break;
        }
        const char c = peek();
        if (c == '\n') {
            ++m_pos;
            ++m_line;
        } else if (c == ';' || c == '#') {
            skip_to_end_of_line();
        } else if (c == '[') {
            return read_section_header();
        } else if (std::isalpha(static_cast<unsigned char>(c))) {
            return read_variable();
        } else {
            return fail("expected a [section], a key or a comment");
        }
    }
    return std::nullopt;
}

void GcfgReader::skip_blanks() {
    while (!at_end() && is_blank(peek())) {
        ++m_pos;
    }
}

void GcfgReader::skip_to_end_of_line() {
    while (!at_end() && peek() != '\n') {
        ++m_pos;
    }
}

tl::unexpected<Error> GcfgReader::fail_at(int line, std::string_view what) const {
    return make_error(ErrorKind::invalid_input, located(line, what));
}

// After a header or a value: only blanks and a comment may follow on the line.
Result<void> GcfgReader::expect_end_of_line(std::string_view after) {
    skip_blanks();
    if (!at_end() && (peek() == ';' || peek() == '#')) {
        skip_to_end_of_line();
    }
    if (!at_end() && peek() != '\n') {
        return fail(fmt::format("unexpected text after {}", after));
    }
    return {};
}

Result<GcfgEntry> GcfgReader::read_section_header() {
    GcfgEntry entry;
    entry.kind = GcfgEntry::Kind::section;
    entry.line = m_line;
    ++m_pos; // '['
    skip_blanks();
    const auto start = m_pos;
    while (!at_end() && (is_name_char(peek()) || peek() == '.')) {
        ++m_pos;
    }
    entry.section = std::string(m_text.substr(start, m_pos - start));
    if (entry.section.empty()) {
        return fail("section header has no name");
    }
    skip_blanks();
    if (!at_end() && peek() == '"') {
        auto subsection = read_subsection();
        if (!subsection) {
            return tl::unexpected(subsection.error());
        }
        entry.subsection = std::move(*subsection);
        skip_blanks();
    }
    if (at_end() || peek() != ']') {
        return fail("unterminated section header (expected \"]\")");
    }
    ++m_pos;
    if (auto ok = expect_end_of_line("section header"); !ok) {
        return tl::unexpected(ok.error());
    }
    m_section = entry.section;
    return entry;
}

Result<std::string> GcfgReader::read_subsection() {
    ++m_pos; // '"'
    std::string subsection;
    while (true) {
        if (at_end() || peek() == '\n') {
            return fail("unterminated quote in section header");
        }
        const char c = peek();
        ++m_pos;
        if (c == '"') {
            return subsection;
        }
        if (c == '\\') {
            if (at_end() || (peek() != '"' && peek() != '\\')) {
                return fail("invalid escape in section name (only \\\" and \\\\)");
            }
            subsection += peek();
            ++m_pos;
            continue;
        }
        subsection += c;
    }
}

Result<GcfgEntry> GcfgReader::read_variable() {
    GcfgEntry entry;
    entry.kind = GcfgEntry::Kind::variable;
    entry.line = m_line;
    const auto start = m_pos;
    while (!at_end() && is_name_char(peek())) {
        ++m_pos;
    }
    entry.key = std::string(m_text.substr(start, m_pos - start));
    skip_blanks();
    if (!at_end() && peek() == '=') {
        ++m_pos;
        auto value = read_value();
        if (!value) {
            return tl::unexpected(value.error());
        }
        entry.value = std::move(*value);
    } else if (auto ok = expect_end_of_line(fmt::format("key \"{}\" (expected \"=\")", entry.key));
               !ok) {
        return tl::unexpected(ok.error());
    }
    if (!m_section) {
        return fail_at(entry.line, fmt::format("key \"{}\" is outside any [section]", entry.key));
    }
    entry.section = *m_section;
    return entry;
}

// git-config value syntax: quoted and unquoted parts may alternate; outside quotes, blanks at both
// ends are dropped and ';' or '#' start a comment; escapes work in both.
Result<std::string> GcfgReader::read_value() {
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
            auto escaped = read_escape();
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
Result<std::string> GcfgReader::read_escape() {
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

} // namespace evrelay::util
