#include "core/util/gcfg_reader.hpp"

#include <catch2/catch.hpp>

#include <vector>

using namespace evrelay;
using util::GcfgEntry;
using util::GcfgReader;

namespace {

std::vector<GcfgEntry> read_all(std::string_view text) {
    GcfgReader reader(text, "t.conf");
    std::vector<GcfgEntry> entries;
    while (true) {
        auto entry = reader.next();
        if (!entry) {
            FAIL("unexpected error: " << entry.error().message);
        }
        if (!*entry) {
            return entries;
        }
        entries.push_back(std::move(**entry));
    }
}

// The first error of `text`, after any entries before it.
Error first_error(std::string_view text) {
    GcfgReader reader(text, "t.conf");
    while (true) {
        auto entry = reader.next();
        if (!entry) {
            return entry.error();
        }
        REQUIRE(*entry); // the text must fail before its end
    }
}

} // namespace

TEST_CASE("GcfgReader gives headers and variables with their lines", "[util][gcfg]") {
    const auto entries = read_all("; comment\n"
                                  "[Main]\n"
                                  "  port = 8030\n"
                                  "\n"
                                  "[Environment \"Prod \\\"EU\\\"\"] # comment\n"
                                  "sdkKey = sdk-1 ; comment\n"
                                  "flag\n");
    REQUIRE(entries.size() == 5);
    CHECK(entries[0].kind == GcfgEntry::Kind::section);
    CHECK(entries[0].line == 2);
    CHECK(entries[0].section == "Main");
    CHECK_FALSE(entries[0].subsection);

    CHECK(entries[1].kind == GcfgEntry::Kind::variable);
    CHECK(entries[1].line == 3);
    CHECK(entries[1].section == "Main");
    CHECK(entries[1].key == "port");
    CHECK(entries[1].value == "8030");

    CHECK(entries[2].kind == GcfgEntry::Kind::section);
    CHECK(entries[2].line == 5);
    CHECK(entries[2].section == "Environment");
    CHECK(entries[2].subsection == "Prod \"EU\"");

    CHECK(entries[3].section == "Environment");
    CHECK(entries[3].key == "sdkKey");
    CHECK(entries[3].value == "sdk-1");

    CHECK(entries[4].key == "flag");
    CHECK_FALSE(entries[4].value); // no "=": gcfg's blank value
    CHECK(entries[4].line == 7);
}

TEST_CASE("GcfgReader keeps names as written and knows no section", "[util][gcfg]") {
    const auto entries = read_all("[anything.Dotted-Name]\nSomeKey=1\n");
    REQUIRE(entries.size() == 2);
    CHECK(entries[0].section == "anything.Dotted-Name");
    CHECK(entries[1].key == "SomeKey");
    CHECK(entries[1].value == "1");
}

TEST_CASE("GcfgReader reads git-config values", "[util][gcfg]") {
    const auto entries = read_all("[s]\n"
                                  "a =   spaced   out   \n"
                                  "b = pre\"  mid ; # \"post\n"
                                  "c = \"tab\\there\\nline \\\\ \\\"q\\\"\"\n"
                                  "d = joined \\\nnext\n"
                                  "e = crlf\r\n"
                                  "f =\n"
                                  "g = after\n");
    REQUIRE(entries.size() == 8);
    CHECK(entries[1].value == "spaced   out");
    CHECK(entries[2].value == "pre  mid ; # post");
    CHECK(entries[3].value == "tab\there\nline \\ \"q\"");
    CHECK(entries[4].value == "joined next");
    CHECK(entries[5].value == "crlf");
    CHECK(entries[6].value == "");
    // The continuation moved the line count on.
    CHECK(entries[7].line == 9);
}

TEST_CASE("GcfgReader reports errors with source and line", "[util][gcfg]") {
    struct Case {
        std::string text;
        std::string message;
    };
    const std::vector<Case> cases = {
        {"[s]\n[t\n", "t.conf:2: unterminated section header (expected \"]\")"},
        {"[]\n", "t.conf:1: section header has no name"},
        {"[s \"x]\n", "t.conf:1: unterminated quote in section header"},
        {"[s \"a\\b\"]\n", "t.conf:1: invalid escape in section name (only \\\" and \\\\)"},
        {"[s] x\n", "t.conf:1: unexpected text after section header"},
        {"[s]\n= 1\n", "t.conf:2: expected a [section], a key or a comment"},
        {"[s]\nkey 1\n", "t.conf:2: unexpected text after key \"key\" (expected \"=\")"},
        {"key = 1\n", "t.conf:1: key \"key\" is outside any [section]"},
        {"[s]\n\nk = \"open\n", "t.conf:3: unterminated quote"},
        {"[s]\nk = a\\qb\n", "t.conf:2: unknown escape \"\\q\" (use \\\", \\\\, \\n or \\t)"},
        {"[s]\nk = a\\", "t.conf:2: backslash at end of file"},
    };
    for (const auto& c : cases) {
        INFO("text:\n" << c.text);
        const auto error = first_error(c.text);
        CHECK(error.kind == ErrorKind::invalid_input);
        CHECK(error.message == c.message);
    }
}

TEST_CASE("GcfgReader::located formats a caller's own message", "[util][gcfg]") {
    const GcfgReader reader("", "dir/relay.conf");
    CHECK(reader.located(12, "bad thing") == "dir/relay.conf:12: bad thing");
}

TEST_CASE("GcfgReader: an empty text has no entries", "[util][gcfg]") {
    CHECK(read_all("").empty());
    CHECK(read_all("\n\n   \n# only comments\n").empty());
}
