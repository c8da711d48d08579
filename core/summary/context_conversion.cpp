#include "core/summary/context_conversion.hpp"

#include "core/json/json_scan.hpp"
#include "core/json/json_string.hpp"
#include "core/util/json_writer.hpp"

#include <algorithm>
#include <array>

namespace evrelay {

namespace {

// A string part's contents: its bytes without the quotes.
std::string_view contents(const JsonPart& part) {
    return part.value.substr(1, part.value.size() - 2);
}

// The old user's top-level attributes that become attributes of the context (ldcontext's
// old-user schema and Node's legacyToSingleKind read the same seven).
constexpr std::array<std::string_view, 7> k_user_attributes = {
    "name", "firstName", "lastName", "email", "avatar", "country", "ip"};

bool is_user_attribute(std::string_view raw_name) {
    return std::find(k_user_attributes.begin(), k_user_attributes.end(), raw_name) !=
           k_user_attributes.end();
}

// A context reserves these names: a custom attribute may not take them.
bool is_reserved(std::string_view name) {
    return name == "kind" || name == "key" || name == "_meta" || name == "anonymous";
}

void append_escaped_key(std::string& out, std::string_view key) {
    for (const char c : key) {
        if (c == '%') {
            out += "%25";
        } else if (c == ':') {
            out += "%3A";
        } else {
            out += c;
        }
    }
}

// A literal attribute name as an attribute reference, what redactedAttributes lists: a name
// starting with '/' would read as a path, so it is written as one, with '~' and '/' escaped.
void append_attribute_reference(std::string& out, std::string_view name) {
    if (name.empty() || name.front() != '/') {
        util::append_json_string(out, name);
        return;
    }
    std::string reference = "/";
    for (const char c : name) {
        if (c == '~') {
            reference += "~0";
        } else if (c == '/') {
            reference += "~1";
        } else {
            reference += c;
        }
    }
    util::append_json_string(out, reference);
}

// The last member named `name` (raw), or null. Of duplicate names the last counts, as Go's and
// JavaScript's JSON readers (the events service's, the SDKs') and the conversion's writer take
// it: reading the first would name in contextKeys and the LRU another key than the context
// written (found by tests/fuzz/fuzz_summary).
const JsonPart* last_member(const std::vector<JsonPart>& members, std::string_view name) {
    const auto found = std::find_if(members.rbegin(), members.rend(),
                                    [&](const JsonPart& member) { return member.key == name; });
    return found == members.rend() ? nullptr : &*found;
}

bool contains(const std::vector<std::string>& names, std::string_view name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

} // namespace

void ContextIdentity::add(std::string_view kind, std::string_view key) {
    if (m_count == m_entries.size()) {
        m_entries.emplace_back();
    }
    m_entries[m_count].kind.assign(kind);
    m_entries[m_count].key.assign(key);
    ++m_count;
}

void ContextIdentity::finish() {
    m_lru_key.clear();
    if (m_count == 1 && m_entries[0].kind == "user") {
        m_lru_key = m_entries[0].key;
        return;
    }
    std::sort(m_entries.begin(), m_entries.begin() + static_cast<std::ptrdiff_t>(m_count),
              [](const KindKey& a, const KindKey& b) { return a.kind < b.kind; });
    for (std::size_t i = 0; i < m_count; ++i) {
        if (i > 0) {
            m_lru_key += ':';
        }
        m_lru_key += m_entries[i].kind;
        m_lru_key += ':';
        append_escaped_key(m_lru_key, m_entries[i].key);
    }
}

std::optional<ContextConverter::Shape> ContextConverter::read(const JsonValidator& document,
                                                              const JsonPart& object,
                                                              ContextIdentity& out) {
    if (object.type != JsonType::object) {
        return std::nullopt;
    }
    m_members.clear();
    document.parts_of(object, m_members);
    if (const JsonPart* kind = last_member(m_members, "kind")) {
        return read_context(document, *kind, out) ? std::optional(Shape::context) : std::nullopt;
    }
    return read_user(out) ? std::optional(Shape::legacy_user) : std::nullopt;
}

void ContextConverter::append_context(const JsonValidator& document, const JsonPart& object,
                                      Shape shape, std::string& out) {
    if (shape == Shape::context) {
        append_compact_json(out, object.value);
        return;
    }
    m_members.clear();
    document.parts_of(object, m_members);
    append_user_as_context(document, out);
}

bool ContextConverter::read_user(ContextIdentity& out) {
    const JsonPart* key = last_member(m_members, "key");
    if (key == nullptr) {
        return false;
    }
    out.clear();
    if (key->type == JsonType::string) {
        out.add("user", json_string_view(contents(*key), m_scratch));
    } else if (key->type == JsonType::number || key->type == JsonType::boolean) {
        out.add("user", key->value);
    } else {
        return false;
    }
    out.finish();
    return true;
}

bool ContextConverter::read_context(const JsonValidator& document, const JsonPart& kind,
                                    ContextIdentity& out) {
    if (kind.type != JsonType::string || contents(kind).empty()) {
        return false;
    }
    out.clear();
    std::string kind_scratch;
    const std::string_view kind_name = json_string_view(contents(kind), kind_scratch);
    if (kind_name != "multi") {
        const JsonPart* key = last_member(m_members, "key");
        if (key == nullptr || key->type != JsonType::string || contents(*key).empty()) {
            return false;
        }
        out.add(kind_name, json_string_view(contents(*key), m_scratch));
        out.finish();
        return true;
    }
    for (const JsonPart& member : m_members) {
        if (member.key == "kind") {
            continue;
        }
        if (member.type != JsonType::object || member.key.empty()) {
            return false;
        }
        m_inner.clear();
        document.parts_of(member, m_inner);
        const JsonPart* inner_key = last_member(m_inner, "key");
        if (inner_key == nullptr || inner_key->type != JsonType::string ||
            contents(*inner_key).empty()) {
            return false;
        }
        out.add(json_string_view(member.key, kind_scratch),
                json_string_view(contents(*inner_key), m_scratch));
    }
    if (out.size() == 0) {
        return false;
    }
    out.finish();
    return true;
}

void ContextConverter::append_user_as_context(const JsonValidator& document, std::string& out) {
    const JsonPart* key = nullptr;
    const JsonPart* anonymous = nullptr;
    const JsonPart* custom = nullptr;
    m_private_names.clear();
    m_redacted.clear();
    for (const JsonPart& member : m_members) {
        if (member.key == "key") {
            key = &member;
        } else if (member.key == "anonymous") {
            anonymous = &member;
        } else if (member.key == "custom" && member.type == JsonType::object) {
            custom = &member;
        } else if ((member.key == "privateAttributeNames" || member.key == "privateAttrs") &&
                   member.type == JsonType::array) {
            // privateAttrs: already removed by the SDK; privateAttributeNames: to remove here.
            std::vector<std::string>& names =
                member.key == "privateAttrs" ? m_redacted : m_private_names;
            m_inner.clear();
            document.parts_of(member, m_inner);
            for (const JsonPart& name : m_inner) {
                if (name.type == JsonType::string) {
                    std::string decoded = json_string_value(contents(name));
                    if (!contains(names, decoded)) {
                        names.push_back(std::move(decoded));
                    }
                }
            }
        }
    }
    // Redacts `name` when it is private: lists it once and leaves its value out.
    auto redacted = [&](std::string_view name) {
        if (!contains(m_private_names, name)) {
            return false;
        }
        if (!contains(m_redacted, name)) {
            m_redacted.emplace_back(name);
        }
        return true;
    };
    auto append_attribute = [&](const JsonPart& member) {
        out += ",\"";
        out += member.key; // as written: already valid inside quotes
        out += "\":";
        append_compact_json(out, member.value);
    };

    out += R"({"kind":"user","key":)";
    if (key != nullptr && key->type == JsonType::string) {
        out += key->value;
    } else if (key != nullptr) {
        util::append_json_string(out, key->value); // a number or boolean key, as its text
    }
    const bool top_anonymous = anonymous != nullptr && anonymous->type != JsonType::null;
    bool is_anonymous = top_anonymous && anonymous->value == "true";
    m_custom.clear();
    if (custom != nullptr) {
        document.parts_of(*custom, m_custom);
    }
    if (!top_anonymous) {
        for (const JsonPart& member : m_custom) {
            if (member.key == "anonymous" && member.type == JsonType::boolean) {
                is_anonymous = member.value == "true";
            }
        }
    }
    if (is_anonymous) {
        out += R"(,"anonymous":true)";
    }
    for (const JsonPart& member : m_members) {
        if (member.type == JsonType::null || !is_user_attribute(member.key) ||
            redacted(member.key)) {
            continue;
        }
        append_attribute(member);
    }
    for (std::size_t i = 0; i < m_custom.size(); ++i) {
        const JsonPart& member = m_custom[i];
        if (member.type == JsonType::null) {
            continue;
        }
        const std::string_view name = json_string_view(member.key, m_scratch);
        if (is_reserved(name)) {
            continue;
        }
        // A top-level attribute of the same name wins; of duplicate names the last does.
        const bool shadowed =
            std::any_of(m_members.begin(), m_members.end(),
                        [&](const JsonPart& top) {
                            return top.key == member.key && top.type != JsonType::null &&
                                   is_user_attribute(top.key);
                        }) ||
            std::any_of(m_custom.begin() + static_cast<std::ptrdiff_t>(i) + 1, m_custom.end(),
                        [&](const JsonPart& later) { return later.key == member.key; });
        if (shadowed || redacted(name)) {
            continue;
        }
        append_attribute(member);
    }
    if (!m_redacted.empty()) {
        out += R"(,"_meta":{"redactedAttributes":[)";
        for (std::size_t i = 0; i < m_redacted.size(); ++i) {
            if (i > 0) {
                out += ',';
            }
            append_attribute_reference(out, m_redacted[i]);
        }
        out += "]}";
    }
    out += '}';
}

void append_context_keys(const ContextIdentity& identity, std::string& out) {
    out += '{';
    bool first = true;
    for (const ContextIdentity::KindKey& entry : identity) {
        if (!first) {
            out += ',';
        }
        first = false;
        util::append_json_string(out, entry.kind);
        out += ':';
        util::append_json_string(out, entry.key);
    }
    out += '}';
}

} // namespace evrelay
