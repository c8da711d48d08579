#pragma once

#include "core/util/error.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace evrelay::util {

// One item of a gcfg text: a section header or a variable ("key = value") of the section above.
struct GcfgEntry {
    enum class Kind { section, variable };
    Kind kind = Kind::section;
    int line = 0;                          // where the header or the key is (1-based)
    std::string section;                   // the section's name as written: [Name "sub"]
    std::optional<std::string> subsection; // the quoted part of the header, unescaped
    std::string key;                       // variables: the key as written
    std::optional<std::string> value;      // variables: nullopt when written without "="
};

// Reads gcfg, the git-config syntax (https://git-scm.com/docs/git-config#_syntax): [section]
// and [section "subsection"] headers, `key = value` lines, `;` and `#` comments, quoted parts
// and \" \\ \n \t escapes in values, and a backslash before a newline joining two lines. It knows
// nothing of what the sections mean: names keep the case they are written in.
//
// Errors are ErrorKind::invalid_input with the message "SOURCE:LINE: what is wrong".
class GcfgReader {
  public:
    GcfgReader(std::string_view text, std::string source_name);

    // The next header or variable; nullopt at the end of the text. After an error the reader
    // stays where it stopped: the caller gives up.
    Result<std::optional<GcfgEntry>> next();

    // "SOURCE:LINE: what", for the caller's own checks of an entry.
    std::string located(int line, std::string_view what) const;

  private:
    bool at_end() const { return m_pos >= m_text.size(); }
    char peek() const { return m_text[m_pos]; }
    void skip_blanks();
    void skip_to_end_of_line();
    tl::unexpected<Error> fail_at(int line, std::string_view what) const;
    tl::unexpected<Error> fail(std::string_view what) const { return fail_at(m_line, what); }
    Result<void> expect_end_of_line(std::string_view after);
    Result<GcfgEntry> read_section_header();
    Result<std::string> read_subsection();
    Result<GcfgEntry> read_variable();
    Result<std::string> read_value();
    Result<std::string> read_escape();

    std::string_view m_text;
    std::string m_source;
    std::size_t m_pos = 0;
    int m_line = 1;
    std::optional<std::string> m_section; // the last header's name, for the variables below it
};

} // namespace evrelay::util
