#include "core/flags/flag_data.hpp"

#include "core/json/json_canonical.hpp"
#include "core/json/json_document.hpp"
#include "core/json/json_number.hpp"
#include "core/json/json_scan.hpp"
#include "core/json/json_string.hpp"

#include <utility>

namespace evrelay {

std::optional<std::size_t> FlagInfo::variation_index_of(std::string_view canonical_value) const {
    const bool precomputed = canonical_variations.size() == variations.size();
    for (std::size_t i = 0; i < variations.size(); ++i) {
        if (precomputed) {
            if (canonical_variations[i] == canonical_value) {
                return i;
            }
        } else if (std::optional<std::string> canonical = canonical_json(variations[i]);
                   canonical && *canonical == canonical_value) {
            return i;
        }
    }
    return std::nullopt;
}

std::optional<std::size_t> FlagInfo::rule_index_of(std::optional<std::int64_t> rule_index,
                                                   std::string_view rule_id) const {
    if (!rule_id.empty()) {
        for (std::size_t i = 0; i < rule_ids.size(); ++i) {
            if (rule_ids[i] == rule_id) {
                return i;
            }
        }
    }
    if (rule_index && *rule_index >= 0 &&
        static_cast<std::uint64_t>(*rule_index) < rule_track_events.size()) {
        return static_cast<std::size_t>(*rule_index);
    }
    return std::nullopt;
}

FlagData::FlagData() = default;
FlagData::~FlagData() = default;
FlagData::FlagData(const FlagData&) = default;
FlagData::FlagData(FlagData&&) noexcept = default;
FlagData& FlagData::operator=(const FlagData&) = default;
FlagData& FlagData::operator=(FlagData&&) noexcept = default;

const FlagInfo* FlagData::find(std::string_view key) const {
    // The map's key type is std::string (no heterogeneous lookup): a per-thread buffer keeps
    // the lookup of a long key from allocating on every event.
    thread_local std::string lookup;
    lookup.assign(key);
    const auto found = flags.find(lookup);
    return found == flags.end() ? nullptr : &found->second;
}

namespace {

// Walks the validated flag data; each failure names the byte where the offending value starts.
class FlagDataReader {
  public:
    explicit FlagDataReader(const JsonDocument& document) : m_document(document) {}

    Result<FlagData> read() {
        if (m_document.root_type() != JsonType::object) {
            return fail(m_document.validator().root(),
                        "flag data is " + json_type_name(m_document.root_type()) +
                            ", not an object ({\"flags\":{…},\"segments\":{…}})");
        }
        FlagData data;
        const JsonPart* flag_values = nullptr;
        for (const JsonPart& member : m_document.parts()) {
            if (member.key == "flags") {
                if (auto read = read_flags(member, data); !read) {
                    return tl::unexpected(read.error());
                }
            } else if (member.key == "segments") {
                if (auto count = count_segments(member); count) {
                    data.segment_count = *count;
                } else {
                    return tl::unexpected(count.error());
                }
            } else if (member.key == "flagValues") {
                flag_values = &member; // read last, so that duplicates of "flags" are found
            }
        }
        if (flag_values != nullptr) {
            if (auto read = read_flag_values(*flag_values, data); !read) {
                return tl::unexpected(read.error());
            }
        }
        return data;
    }

  private:
    tl::unexpected<Error> fail(std::string_view where, const std::string& what) const {
        return make_error(ErrorKind::invalid_input,
                          "at byte " + std::to_string(m_document.offset_of(where)) + ": " + what);
    }

    tl::unexpected<Error> fail_type(const JsonPart& part, const std::string& what,
                                    std::string_view expected) const {
        return fail(part.value,
                    what + " is " + json_type_name(part.type) + ", not " + std::string(expected));
    }

    static std::string flag_label(const std::string& key) { return "flag \"" + key + "\""; }

    Result<void> read_flags(const JsonPart& flags, FlagData& data) {
        if (flags.type == JsonType::null) {
            return {};
        }
        if (flags.type != JsonType::object) {
            return fail_type(flags, "\"flags\"", "an object");
        }
        std::vector<JsonPart> entries;
        m_document.parts_of(flags, entries);
        for (const JsonPart& entry : entries) {
            std::string key = json_string_value(entry.key);
            Result<FlagInfo> flag = read_flag(entry, key);
            if (!flag) {
                return tl::unexpected(flag.error());
            }
            // A key written twice: the last one counts, as for any JSON object.
            data.flags.insert_or_assign(std::move(key), std::move(*flag));
        }
        return {};
    }

    Result<FlagInfo> read_flag(const JsonPart& entry, const std::string& key) {
        const std::string label = flag_label(key);
        if (entry.type != JsonType::object) {
            return fail_type(entry, label, "an object");
        }
        FlagInfo flag;
        std::vector<JsonPart> members;
        m_document.parts_of(entry, members);
        for (const JsonPart& member : members) {
            const std::string name = label + ": \"" + std::string(member.key) + "\"";
            if (member.key == "version") {
                auto version = integer(member, name);
                if (!version) {
                    return tl::unexpected(version.error());
                }
                flag.version = version->value_or(0);
            } else if (member.key == "variations") {
                if (auto read = read_variations(member, name, flag); !read) {
                    return tl::unexpected(read.error());
                }
            } else if (member.key == "trackEvents") {
                if (auto value = boolean(member, name); value) {
                    flag.track_events = *value;
                } else {
                    return tl::unexpected(value.error());
                }
            } else if (member.key == "trackEventsFallthrough") {
                if (auto value = boolean(member, name); value) {
                    flag.track_events_fallthrough = *value;
                } else {
                    return tl::unexpected(value.error());
                }
            } else if (member.key == "rules") {
                if (auto read = read_rules(member, name, flag); !read) {
                    return tl::unexpected(read.error());
                }
            } else if (member.key == "debugEventsUntilDate") {
                auto date = integer(member, name);
                if (!date) {
                    return tl::unexpected(date.error());
                }
                flag.debug_events_until_date = *date;
            }
        }
        return flag;
    }

    Result<void> read_variations(const JsonPart& variations, const std::string& name,
                                 FlagInfo& flag) {
        if (variations.type == JsonType::null) {
            return {};
        }
        if (variations.type != JsonType::array) {
            return fail_type(variations, name, "an array");
        }
        std::vector<JsonPart> values;
        m_document.parts_of(variations, values);
        flag.variations.reserve(values.size());
        flag.canonical_variations.reserve(values.size());
        for (const JsonPart& value : values) {
            add_variation(value, flag);
        }
        return {};
    }

    void add_variation(const JsonPart& value, FlagInfo& flag) const {
        std::string compact;
        append_compact_json(compact, value.value);
        flag.variations.push_back(std::move(compact));
        std::string canonical;
        append_canonical_json(m_document.validator(), value, canonical);
        flag.canonical_variations.push_back(std::move(canonical));
    }

    Result<void> read_rules(const JsonPart& rules, const std::string& name, FlagInfo& flag) {
        if (rules.type == JsonType::null) {
            return {};
        }
        if (rules.type != JsonType::array) {
            return fail_type(rules, name, "an array");
        }
        std::vector<JsonPart> list;
        m_document.parts_of(rules, list);
        std::vector<JsonPart> members;
        for (std::size_t i = 0; i < list.size(); ++i) {
            const std::string rule_name = name + "[" + std::to_string(i) + "]";
            if (list[i].type != JsonType::object) {
                return fail_type(list[i], rule_name, "an object");
            }
            bool track_events = false;
            std::string id;
            members.clear();
            m_document.parts_of(list[i], members);
            for (const JsonPart& member : members) {
                if (member.key == "trackEvents") {
                    auto value = boolean(member, rule_name + ".trackEvents");
                    if (!value) {
                        return tl::unexpected(value.error());
                    }
                    track_events = *value;
                } else if (member.key == "id" && member.type != JsonType::null) {
                    if (member.type != JsonType::string) {
                        return fail_type(member, rule_name + ".id", "a string");
                    }
                    id = json_string_value(member.value.substr(1, member.value.size() - 2));
                }
            }
            flag.rule_track_events.push_back(track_events);
            flag.rule_ids.push_back(std::move(id));
        }
        return {};
    }

    Result<void> read_flag_values(const JsonPart& flag_values, FlagData& data) {
        if (flag_values.type == JsonType::null) {
            return {};
        }
        if (flag_values.type != JsonType::object) {
            return fail_type(flag_values, "\"flagValues\"", "an object");
        }
        std::vector<JsonPart> entries;
        m_document.parts_of(flag_values, entries);
        for (const JsonPart& entry : entries) {
            std::string key = json_string_value(entry.key);
            if (data.flags.contains(key)) {
                return fail(entry.value,
                            flag_label(key) + " is in both \"flags\" and \"flagValues\"");
            }
            FlagInfo flag;
            flag.version = 1;
            add_variation(entry, flag);
            data.flags.insert_or_assign(std::move(key), std::move(flag));
        }
        return {};
    }

    Result<std::size_t> count_segments(const JsonPart& segments) {
        if (segments.type == JsonType::null) {
            return std::size_t{0};
        }
        if (segments.type != JsonType::object) {
            return fail_type(segments, "\"segments\"", "an object");
        }
        std::vector<JsonPart> entries;
        m_document.parts_of(segments, entries);
        return entries.size();
    }

    // A number that is a whole value, or null (nullopt).
    Result<std::optional<std::int64_t>> integer(const JsonPart& part, const std::string& name) {
        if (part.type == JsonType::null) {
            return std::optional<std::int64_t>{};
        }
        if (part.type != JsonType::number) {
            return fail_type(part, name, "a number");
        }
        const std::optional<std::int64_t> value = json_number_as_int64(part.value);
        if (!value) {
            return fail(part.value, name + " is " + std::string(part.value) +
                                        ", not a whole number that fits in 64 bits");
        }
        return value;
    }

    // true or false; null counts as false, as the SDKs read it.
    Result<bool> boolean(const JsonPart& part, const std::string& name) {
        if (part.type == JsonType::null) {
            return false;
        }
        if (part.type != JsonType::boolean) {
            return fail_type(part, name, "a boolean");
        }
        return part.value == "true";
    }

    const JsonDocument& m_document;
};

} // namespace

Result<FlagData> parse_flag_data(std::string_view json) {
    JsonDocument document;
    if (JsonResult<void> valid = document.parse(json); !valid) {
        return make_error(ErrorKind::invalid_input, "at byte " +
                                                        std::to_string(valid.error().offset) +
                                                        ": " + valid.error().message);
    }
    return FlagDataReader(document).read();
}

} // namespace evrelay
