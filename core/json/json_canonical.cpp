#include "core/json/json_canonical.hpp"

#include "core/json/json_document.hpp"
#include "core/json/json_number.hpp"
#include "core/json/json_string.hpp"
#include "core/util/json_writer.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>
#include <vector>

namespace evrelay {

namespace {

void append_canonical_number(std::string_view number, std::string& out) {
    const std::optional<double> value = json_number_as_double(number);
    if (!value) {
        out += number;
        return;
    }
    // Shortest round-trip text; -0 compares equal to 0, so it is written as 0.
    const double canonical = *value == 0 ? 0.0 : *value;
    std::array<char, 32> text{};
    const auto [end, error] = std::to_chars(text.data(), text.data() + text.size(), canonical);
    out.append(text.data(), error == std::errc{} ? end : text.data());
}

} // namespace

void append_canonical_json(const JsonValidator& validator, const JsonPart& part, std::string& out) {
    switch (part.type) {
    case JsonType::string:
        // The part's bytes include the quotes.
        util::append_json_string(out,
                                 json_string_value(part.value.substr(1, part.value.size() - 2)));
        return;
    case JsonType::number:
        append_canonical_number(part.value, out);
        return;
    case JsonType::boolean:
    case JsonType::null:
        out += part.value;
        return;
    case JsonType::array: {
        std::vector<JsonPart> elements;
        validator.parts_of(part, elements);
        out += '[';
        for (std::size_t i = 0; i < elements.size(); ++i) {
            if (i > 0) {
                out += ',';
            }
            append_canonical_json(validator, elements[i], out);
        }
        out += ']';
        return;
    }
    case JsonType::object: {
        std::vector<JsonPart> members;
        validator.parts_of(part, members);
        // (decoded name, canonical value), sorted by name; stable, so that of equal names the
        // last written stays last and is the one kept.
        std::vector<std::pair<std::string, std::string>> sorted;
        sorted.reserve(members.size());
        for (const JsonPart& member : members) {
            std::string value;
            append_canonical_json(validator, member, value);
            sorted.emplace_back(json_string_value(member.key), std::move(value));
        }
        std::stable_sort(sorted.begin(), sorted.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        out += '{';
        bool first = true;
        for (std::size_t i = 0; i < sorted.size(); ++i) {
            if (i + 1 < sorted.size() && sorted[i + 1].first == sorted[i].first) {
                continue; // a later duplicate follows
            }
            if (!first) {
                out += ',';
            }
            first = false;
            util::append_json_string(out, sorted[i].first);
            out += ':';
            out += sorted[i].second;
        }
        out += '}';
        return;
    }
    }
}

std::optional<std::string> canonical_json(std::string_view json) {
    JsonDocument document;
    if (!document.parse(json)) {
        return std::nullopt;
    }
    std::string out;
    append_canonical_json(document.validator(), document.validator().root_part(), out);
    return out;
}

} // namespace evrelay
