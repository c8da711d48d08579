#include "core/json/event_splitter.hpp"

#include "core/json/json_scan.hpp"
#include "core/json/json_string.hpp"
#include "core/json/json_syntax.hpp"
#include "core/json/json_validator.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cstring>

namespace evrelay {

namespace {

constexpr std::size_t k_simdjson_padding = simdjson::SIMDJSON_PADDING;

std::size_t first_non_space(std::string_view json) {
    std::size_t i = 0;
    while (i < json.size() && json_syntax::is_space(json[i])) {
        ++i;
    }
    return i;
}

} // namespace

struct EventSplitter::Impl {
    JsonValidator validator;
    // Input whose caller cannot promise simdjson's padding is copied here; kept between calls so
    // that small inputs (NDJSON lines, post bodies) do not allocate each time.
    std::unique_ptr<char[]> padded;
    std::size_t padded_size = 0;

    // Returns a buffer holding `json` followed by at least SIMDJSON_PADDING readable bytes.
    const char* ensure_padding(std::string_view json, std::size_t padded_capacity) {
        if (padded_capacity >= json.size() + k_simdjson_padding) {
            return json.data();
        }
        const std::size_t needed = json.size() + k_simdjson_padding;
        if (padded_size < needed) {
            const std::size_t size = std::max(needed, padded_size * 2);
            padded = std::make_unique_for_overwrite<char[]>(size);
            padded_size = size;
        }
        if (!json.empty()) {
            std::memcpy(padded.get(), json.data(), json.size());
        }
        std::memset(padded.get() + json.size(), 0, k_simdjson_padding);
        return padded.get();
    }

    // Validates `json`; the validator's parts are views into `json` (not into a padded copy).
    JsonResult<void> validate(std::string_view json, std::size_t padded_capacity) {
        const char* buffer = ensure_padding(json, padded_capacity);
        // The views must point into `json` itself: validate the copy, then map back.
        JsonResult<void> valid = validator.validate(buffer, std::string_view(buffer, json.size()));
        if (valid) {
            delta = json.data() - buffer;
        }
        return valid;
    }

    // A view of the validated text, moved from the buffer validated to `json`.
    std::string_view in_input(std::string_view view) const {
        return std::string_view(view.data() + delta, view.size());
    }

    std::ptrdiff_t delta = 0;
};

EventSplitter::EventSplitter() : m_impl(std::make_unique<Impl>()) {}
EventSplitter::~EventSplitter() = default;

JsonResult<void> EventSplitter::split_array(std::string_view json, std::size_t padded_capacity,
                                            std::vector<std::string_view>& out) {
    if (JsonResult<void> valid = m_impl->validate(json, padded_capacity); !valid) {
        return valid;
    }
    const JsonValidator& validator = m_impl->validator;
    if (validator.root_type() != JsonType::array) {
        return json_error(first_non_space(json), "expected a JSON array of event objects, got " +
                                                     json_type_name(validator.root_type()));
    }
    const std::vector<JsonPart>& elements = validator.parts();
    for (std::size_t i = 0; i < elements.size(); ++i) {
        if (elements[i].type != JsonType::object) {
            const std::string_view element = m_impl->in_input(elements[i].value);
            return json_error(static_cast<std::size_t>(element.data() - json.data()),
                              "element " + std::to_string(i) + " is " +
                                  json_type_name(elements[i].type) + ", not an object");
        }
    }
    out.reserve(out.size() + elements.size());
    for (const JsonPart& element : elements) {
        out.push_back(m_impl->in_input(element.value));
    }
    return {};
}

const JsonValidator& EventSplitter::validator() const {
    return m_impl->validator;
}

JsonResult<void> EventSplitter::validate_json(std::string_view json, std::size_t padded_capacity) {
    return m_impl->validate(json, padded_capacity);
}

JsonResult<void> EventSplitter::validate_object(std::string_view json,
                                                std::size_t padded_capacity) {
    JsonResult<void> valid = m_impl->validate(json, padded_capacity);
    if (valid && m_impl->validator.root_type() != JsonType::object) {
        return json_error(first_non_space(json), "expected a JSON object, got " +
                                                     json_type_name(m_impl->validator.root_type()));
    }
    return valid;
}

std::string EventSplitter::kind_of(std::string_view object_json) {
    // The text is already validated: a scan finds the member, no second validation.
    const std::string_view kind = object_member_span(object_json, "kind");
    if (kind.size() < 2 || kind.front() != '"') {
        return {};
    }
    return json_string_value(kind.substr(1, kind.size() - 2));
}

} // namespace evrelay
