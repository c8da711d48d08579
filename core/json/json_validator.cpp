#include "core/json/json_validator.hpp"

#include "core/json/json_error_locator.hpp"
#include "core/json/json_syntax.hpp"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <optional>

namespace evrelay {

static_assert(k_json_padding >= simdjson::SIMDJSON_PADDING);

namespace {

using json_syntax::is_escape_letter;
using json_syntax::is_hex;
using json_syntax::k_max_depth;

// The bytes that may follow a number or literal (else the text ends there): whitespace and
// operators. Not a quote: stage 1 does not index a quote that directly follows a scalar, so `1""`
// would otherwise pass as the number 1.
constexpr std::array<bool, 256> k_ends_scalar = [] {
    std::array<bool, 256> table{};
    for (unsigned char c : {' ', '\t', '\n', '\r', ',', ':', '[', ']', '{', '}'}) {
        table[c] = true;
    }
    return table;
}();

// Where a number starting at `at` ends, or nothing when it is not a JSON number.
// Reads no further than `size`.
std::optional<std::size_t> number_end(const char* bytes, std::size_t size, std::size_t at) {
    auto text = [&](std::size_t i) { return i < size ? bytes[i] : '\0'; };
    auto digit = [&](std::size_t i) { return text(i) >= '0' && text(i) <= '9'; };
    std::size_t i = at;
    if (text(i) == '-') {
        ++i;
    }
    if (text(i) == '0') {
        ++i;
    } else if (digit(i)) {
        while (digit(i)) {
            ++i;
        }
    } else {
        return std::nullopt;
    }
    if (text(i) == '.') {
        ++i;
        if (!digit(i)) {
            return std::nullopt;
        }
        while (digit(i)) {
            ++i;
        }
    }
    if ((text(i) | 0x20) == 'e') {
        ++i;
        if (text(i) == '+' || text(i) == '-') {
            ++i;
        }
        if (!digit(i)) {
            return std::nullopt;
        }
        while (digit(i)) {
            ++i;
        }
    }
    return i;
}

// The rejection of `json`, which the walk found wrong at `at` because `why`. Out of line and
// cold, so that the error path adds no code to the walk: each `return fail(...)` is one call,
// and the walk's helpers stay inlined.
[[gnu::cold, gnu::noinline]] JsonResult<void>
rejection(std::string_view json, std::size_t at, const char* why, std::vector<JsonPart>& parts) {
    parts.clear();
    // The walk knows which rule broke; the byte-by-byte locator says exactly where.
    return json_error(locate_json_error(json).value_or(at), why);
}

} // namespace

std::string json_type_name(JsonType type) {
    switch (type) {
    case JsonType::array:
        return "an array";
    case JsonType::object:
        return "an object";
    case JsonType::string:
        return "a string";
    case JsonType::number:
        return "a number";
    case JsonType::boolean:
        return "a boolean";
    case JsonType::null:
        return "null";
    }
    return "an unknown value";
}

struct JsonValidator::Impl {
    // Only its stage-1 implementation and index buffers are used: they are public members
    // of simdjson's DOM parser ("for benchmarking access"), and picked for this CPU at run time.
    simdjson::dom::parser parser;
    // in_object[d]: the container at depth d (1 = the root's) is an object; opened_at[d]: the
    // index entry of its opening bracket.
    std::array<bool, k_max_depth + 2> in_object{};
    std::array<std::uint32_t, k_max_depth + 2> opened_at{};
    // close_of[i], for the entry i of an opening bracket: the entry of its closing bracket, so
    // that parts_of() steps over a nested container instead of walking its inside again.
    // Written by validate(); other entries are left unset.
    std::unique_ptr<std::uint32_t[]> close_of;
    std::size_t close_of_capacity = 0;
    const char* text = nullptr;
    std::size_t size = 0;

    const std::uint32_t* index() const { return parser.implementation->structural_indexes.get(); }
    std::uint32_t count() const { return parser.implementation->n_structural_indexes; }

    // Where a scalar (string, number, literal) whose structural entry is `i` ends: before the
    // whitespace that precedes the next entry (stage 1 ends its index with the text's size).
    std::size_t scalar_end(std::uint32_t i) const {
        std::size_t end = index()[i + 1];
        while (end > index()[i] && json_syntax::is_space(text[end - 1])) {
            --end;
        }
        return end;
    }

    // Checks every backslash of the text: each must start a valid escape. A backslash outside a
    // string is part of a scalar, which the walk rejects anyway.
    std::optional<std::size_t> bad_escape() const {
        const char* p = text;
        const char* const end = text + size;
        while ((p = static_cast<const char*>(std::memchr(p, '\\', end - p))) != nullptr) {
            const char c = p + 1 < end ? p[1] : '\0';
            if (is_escape_letter(c)) {
                p += 2;
            } else if (c == 'u' && p + 6 <= end && is_hex(p[2]) && is_hex(p[3]) && is_hex(p[4]) &&
                       is_hex(p[5])) {
                p += 6;
            } else {
                return static_cast<std::size_t>(p - text);
            }
            if (p >= end) {
                break;
            }
        }
        return std::nullopt;
    }
};

JsonValidator::JsonValidator() : m_impl(std::make_unique<Impl>()) {}
JsonValidator::~JsonValidator() = default;

JsonResult<void> JsonValidator::validate(const char* buffer, std::string_view json) {
    m_parts.clear();
    m_root = JsonPart{};
    Impl& impl = *m_impl;
    auto fail = [&](std::size_t at, const char* why) { return rejection(json, at, why, m_parts); };
    if (json.size() > simdjson::SIMDJSON_MAXSIZE_BYTES) {
        return json_error(0, "input too large for the JSON parser");
    }
    if (impl.parser.capacity() < json.size() || !impl.parser.implementation) {
        // Grows by half at least, so that slowly growing inputs do not reallocate each time.
        const std::size_t capacity =
            std::max({json.size(), std::size_t{4096}, impl.parser.capacity() * 3 / 2});
        if (auto code = impl.parser.allocate(capacity); code) {
            return json_error(0, simdjson::error_message(code));
        }
    }
    impl.text = buffer;
    impl.size = json.size();
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(buffer);
    if (auto code =
            impl.parser.implementation->stage1(bytes, json.size(), simdjson::stage1_mode::regular);
        code) {
        return fail(json.size(), simdjson::error_message(code));
    }
    if (auto at = impl.bad_escape()) {
        return fail(*at, "invalid escape sequence in a string");
    }

    // The walk is written with labels, as simdjson's own stage 2: where the code is says what
    // may come next, so the common sequences (key, ':', string, ',') take no dispatch on a state.
    const std::uint32_t* index = impl.index();
    const std::uint32_t count = impl.count();
    if (impl.close_of_capacity < count) {
        impl.close_of_capacity = std::max<std::size_t>(count, impl.close_of_capacity * 3 / 2);
        impl.close_of = std::make_unique_for_overwrite<std::uint32_t[]>(impl.close_of_capacity);
    }
    std::uint32_t* const close_of = impl.close_of.get();
    std::uint32_t i = 0;
    int depth = 0; // containers open around the current entry
    // The root's part being read (a value that starts at depth 1), and its key.
    std::uint32_t part_first = 0;
    std::string_view part_key;
    // The value that just ended: its type and where its bytes end.
    JsonType type = JsonType::null;
    std::size_t value_end = 0;
    std::uint32_t at = 0;
    char c = 0;

value: // entry i starts a value inside `depth` containers
    if (i >= count) {
        return fail(json.size(), "the JSON text ends early");
    }
    at = index[i];
    c = buffer[at];
    if (depth == 0) {
        m_root.first = i;
    } else if (depth == 1) {
        part_first = i;
    }
    switch (c) {
    case '{':
    case '[': {
        const bool object = c == '{';
        if (depth == k_max_depth) {
            return fail(at, "nested more than 1024 levels deep");
        }
        impl.in_object[++depth] = object;
        impl.opened_at[depth] = i;
        if (++i >= count) {
            return fail(json.size(), "the JSON text ends early");
        }
        if (buffer[index[i]] == (object ? '}' : ']')) { // empty
            type = object ? JsonType::object : JsonType::array;
            value_end = index[i] + 1;
            close_of[i - 1] = i;
            --depth;
            ++i;
            goto value_done;
        }
        if (object) {
            goto member;
        }
        goto value;
    }
    case '"':
        // Stage 1 checked the string; where it ends matters only for the root and its parts.
        ++i;
        if (depth > 1) {
            goto next_in_container;
        }
        type = JsonType::string;
        value_end = impl.scalar_end(i - 1);
        goto value_done;
    case 't':
    case 'f':
    case 'n': {
        // Compared with constant sizes, so that no library call is made.
        const std::size_t length = c == 'f' ? 5 : 4;
        const bool spelt = c == 't'   ? std::memcmp(buffer + at, "true", 4) == 0
                           : c == 'n' ? std::memcmp(buffer + at, "null", 4) == 0
                                      : std::memcmp(buffer + at, "false", 5) == 0;
        const std::size_t end = at + length;
        if (!spelt || end > json.size() ||
            (end < json.size() && !k_ends_scalar[static_cast<unsigned char>(buffer[end])])) {
            return fail(at, "invalid literal (true, false or null expected)");
        }
        type = c == 'n' ? JsonType::null : JsonType::boolean;
        value_end = end;
        ++i;
        goto value_done;
    }
    default: {
        const std::optional<std::size_t> end = number_end(buffer, json.size(), at);
        if (!end ||
            (*end < json.size() && !k_ends_scalar[static_cast<unsigned char>(buffer[*end])])) {
            return fail(at,
                        c == '-' || (c >= '0' && c <= '9') ? "invalid number" : "expected a value");
        }
        type = JsonType::number;
        value_end = *end;
        ++i;
        goto value_done;
    }
    }

member: // entry i starts an object member: a key, ':', then its value
    if (i >= count) {
        return fail(json.size(), "the JSON text ends early");
    }
    at = index[i];
    if (buffer[at] != '"') {
        return fail(at, "expected a member name in double quotes");
    }
    if (depth == 1) {
        part_key = json.substr(at + 1, impl.scalar_end(i) - at - 2);
    }
    if (++i >= count) {
        return fail(json.size(), "the JSON text ends early");
    }
    at = index[i];
    if (buffer[at] != ':') {
        return fail(at, "expected ':' after a member name");
    }
    ++i;
    goto value;

value_done: // a value of `type` ending at value_end came before entry i, inside `depth` containers
    if (depth == 0) {
        const std::uint32_t start = index[m_root.first];
        m_root.type = type;
        m_root.value = json.substr(start, value_end - start);
        m_root.end = i;
        goto done;
    }
    if (depth == 1) {
        const std::uint32_t start = index[part_first];
        m_parts.push_back(JsonPart{impl.in_object[1] ? part_key : std::string_view{},
                                   json.substr(start, value_end - start), type, part_first, i});
    }

next_in_container: // after a value inside `depth` (>= 1) containers: ',' or the close
    if (i >= count) {
        return fail(json.size(), "the JSON text ends early");
    }
    at = index[i];
    c = buffer[at];
    if (c == ',') {
        ++i;
        if (impl.in_object[depth]) {
            goto member;
        }
        goto value;
    }
    if (c == (impl.in_object[depth] ? '}' : ']')) {
        type = impl.in_object[depth] ? JsonType::object : JsonType::array;
        value_end = at + 1;
        close_of[impl.opened_at[depth]] = i;
        --depth;
        ++i;
        goto value_done;
    }
    return fail(at, impl.in_object[depth] ? "expected ',' or '}'" : "expected ',' or ']'");

done:
    if (i != count) {
        return fail(index[i], "unexpected content after the JSON value");
    }
    return {};
}

void JsonValidator::parts_of(const JsonPart& container, std::vector<JsonPart>& out) const {
    const Impl& impl = *m_impl;
    const std::uint32_t* index = impl.index();
    const char* text = impl.text;
    const bool object = container.type == JsonType::object;
    const std::uint32_t close = container.end - 1; // the container's closing bracket
    // Validated JSON: each part is [key ':'] value, then ',' or the close.
    for (std::uint32_t i = container.first + 1; i < close; ++i) {
        std::string_view key;
        if (object) {
            key = std::string_view(text + index[i] + 1, impl.scalar_end(i) - index[i] - 2);
            i += 2;
        }
        const std::uint32_t first = i;
        const char c = text[index[i]];
        std::size_t end = 0;
        JsonType type = JsonType::null;
        if (c == '{' || c == '[') {
            i = impl.close_of[i];
            end = index[i] + 1;
            type = c == '{' ? JsonType::object : JsonType::array;
        } else {
            end = impl.scalar_end(i);
            type = c == '"'               ? JsonType::string
                   : c == 't' || c == 'f' ? JsonType::boolean
                   : c == 'n'             ? JsonType::null
                                          : JsonType::number;
        }
        ++i; // now at ',' or the close
        const std::uint32_t start = index[first];
        out.push_back(JsonPart{key, std::string_view(text + start, end - start), type, first, i});
    }
}

} // namespace evrelay
