#include "core/input/capture_reader.hpp"

#include "core/json/json_string.hpp"
#include "core/model/capture_record.hpp"

#include <charconv>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace evrelay::input {

namespace {

tl::unexpected<Error> bad_envelope(std::string what) {
    return make_error(ErrorKind::invalid_input, std::move(what));
}

} // namespace

Result<EventReader::Next> CaptureReader::next(InputItem& item, InputProblem& problem) {
    using Next = EventReader::Next;
    if (m_finished) {
        return Next::end;
    }
    while (true) {
        util::LineReader::Line line{};
        Result<LineSource::Next> more = m_lines.next(line, problem);
        if (!more) {
            return tl::unexpected(more.error());
        }
        if (*more == LineSource::Next::end) {
            m_finished = true;
            return Next::end;
        }
        if (*more == LineSource::Next::too_long) {
            return Next::malformed;
        }
        // The line source keeps simdjson's padding after each line.
        JsonResult<void> valid = m_validator.validate(line.text.data(), line.text);
        if (valid && m_validator.root_type() != JsonType::object) {
            // Rare: let the splitter say what the root is instead, and where.
            valid = m_splitter.validate_object(line.text, line.text.size() + k_json_padding);
        }
        if (!valid) {
            problem = m_lines.rejected(line, valid.error());
            return Next::malformed;
        }
        item.line = line.number;
        if (Result<void> envelope = read_envelope(item); !envelope) {
            item.events.clear();
            item.envelope.reset();
            problem = m_lines.problem_at(line, "capture line: " + envelope.error().message);
            return Next::malformed;
        }
        if (item.events.empty()) {
            // A recorded empty post: nothing to replay, not an error either.
            item.envelope.reset();
            continue;
        }
        return Next::item;
    }
}

// The envelope's members are read from the parts the line's validation found: one pass over the
// line, no DOM, no second parse to find where the events are.
Result<void> CaptureReader::read_envelope(InputItem& item) {
    CaptureRecord record;
    std::optional<std::int64_t> version;
    bool have_received = false;
    bool have_env = false;
    bool have_sdk = false;
    bool have_kind = false;
    bool have_schema = false;
    std::optional<DataKind> events_kind;
    std::string_view events_json;
    for (const JsonPart& field : m_validator.parts()) {
        // Keys are compared as written unless they hold an escape (never, from evrelay).
        std::string decoded_key;
        std::string_view key = field.key;
        if (key.find('\\') != std::string_view::npos) {
            decoded_key = json_string_value(key);
            key = decoded_key;
        }
        const auto text = [&]() -> std::optional<std::string> {
            if (field.type != JsonType::string) {
                return std::nullopt;
            }
            return json_string_value(field.value.substr(1, field.value.size() - 2));
        };
        const auto integer = [&]() -> std::optional<std::int64_t> {
            std::int64_t number = 0;
            const char* end = field.value.data() + field.value.size();
            if (field.type != JsonType::number ||
                std::from_chars(field.value.data(), end, number).ptr != end) {
                return std::nullopt;
            }
            return number;
        };
        if (key == "v") {
            if (!(version = integer())) {
                return bad_envelope("\"v\" is not a number");
            }
        } else if (key == "received") {
            const std::optional<std::string> value = text();
            std::optional<std::chrono::system_clock::time_point> received;
            if (!value || !(received = parse_timestamp(*value))) {
                return bad_envelope(
                    "\"received\" is not a timestamp like 2026-11-26T23:19:43.123Z");
            }
            record.received = *received;
            have_received = true;
        } else if (key == "env") {
            std::optional<std::string> value = text();
            if (!value) {
                return bad_envelope("\"env\" is not a string");
            }
            record.env_name = std::move(*value);
            have_env = true;
        } else if (key == "sdk") {
            const std::optional<std::string> value = text();
            std::optional<SdkKind> sdk;
            if (!value || !(sdk = parse_sdk_kind(*value))) {
                return bad_envelope("\"sdk\" is not one of server, mobile, js");
            }
            record.sdk = *sdk;
            have_sdk = true;
        } else if (key == "kind") {
            const std::optional<std::string> value = text();
            std::optional<DataKind> kind;
            if (!value || !(kind = parse_data_kind(*value))) {
                return bad_envelope("\"kind\" is not one of analytics, diagnostic");
            }
            record.kind = *kind;
            have_kind = true;
        } else if (key == "schema") {
            const std::optional<std::int64_t> number = integer();
            if (!number || *number < 1 || *number > 1000) {
                return bad_envelope("\"schema\" is not a schema version");
            }
            record.metadata.schema_version = static_cast<int>(*number);
            have_schema = true;
        } else if (key == "tags") {
            std::optional<std::string> value = text();
            if (!value) {
                return bad_envelope("\"tags\" is not a string");
            }
            record.metadata.tags = std::move(*value);
        } else if (key == "unsummarized") {
            if (field.type != JsonType::boolean) {
                return bad_envelope("\"unsummarized\" is not true or false");
            }
            record.metadata.unsummarized = field.value == "true";
        } else if (key == "payloadId") {
            std::optional<std::string> value = text();
            if (!value) {
                return bad_envelope("\"payloadId\" is not a string");
            }
            record.payload_id = std::move(*value);
        } else if (key == "events" || key == "event") {
            if (events_kind) {
                return bad_envelope("\"events\" or \"event\" appears more than once");
            }
            if (key == "events") {
                if (field.type != JsonType::array) {
                    return bad_envelope("\"events\" is not an array");
                }
                m_events.clear();
                m_validator.parts_of(field, m_events);
                for (std::size_t i = 0; i < m_events.size(); ++i) {
                    if (m_events[i].type != JsonType::object) {
                        return bad_envelope("\"events\": element " + std::to_string(i) + " is " +
                                            json_type_name(m_events[i].type) + ", not an object");
                    }
                }
                for (const JsonPart& event : m_events) {
                    item.events.push_back(event.value);
                }
                events_kind = DataKind::analytics;
            } else {
                if (field.type != JsonType::object) {
                    return bad_envelope("\"event\" is not an object");
                }
                item.events.push_back(field.value);
                events_kind = DataKind::diagnostic;
            }
            events_json = field.value;
        }
        // Other members are ignored: later versions may add some.
    }
    if (!version) {
        return bad_envelope("missing \"v\"");
    }
    if (*version != 1) {
        return bad_envelope("unsupported capture version " + std::to_string(*version));
    }
    // The schema describes analytics events; a diagnostic line may leave it out.
    const bool schema_ok = have_schema || (have_kind && record.kind == DataKind::diagnostic);
    if (!have_received || !have_env || !have_sdk || !have_kind || !schema_ok) {
        return bad_envelope("missing one of \"received\", \"env\", \"sdk\", \"kind\", \"schema\"");
    }
    if (!events_kind) {
        return bad_envelope(record.kind == DataKind::analytics ? "missing \"events\""
                                                               : "missing \"event\"");
    }
    if (*events_kind != record.kind) {
        return bad_envelope(record.kind == DataKind::analytics
                                ? "analytics envelope with \"event\""
                                : "diagnostic envelope with \"events\"");
    }
    record.events_json = events_json;
    item.kind = record.kind;
    item.envelope = std::move(record);
    return {};
}

} // namespace evrelay::input
