// JsonValidator (core/json) on any bytes: its verdict is simdjson's DOM verdict (json_oracle.hpp),
// what it finds in an accepted text is what simdjson's document holds, and the scans of
// already-validated text (json_scan.hpp, which the 413 split and kind_of() use) cut the same
// parts.

#include "tests/fuzz/fuzz_support.hpp"
#include "tests/fuzz/json_oracle.hpp"

#include "core/json/json_scan.hpp"
#include "core/json/json_validator.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

using namespace evrelay;

namespace {

// array_element_spans() and object_member_span() on a text the validator accepted.
void check_scans(const JsonValidator& validator, std::string_view json) {
    const std::vector<JsonPart>& parts = validator.parts();
    const std::optional<std::vector<std::string_view>> elements = array_element_spans(json);
    FUZZ_CHECK(elements.has_value() == (validator.root_type() == JsonType::array),
               "array_element_spans() and the validator disagree on whether it is an array");
    if (elements) {
        FUZZ_CHECK(elements->size() == parts.size(), "array_element_spans() counts differently");
        for (std::size_t i = 0; i < parts.size(); ++i) {
            FUZZ_CHECK((*elements)[i] == parts[i].value,
                       "array_element_spans() cuts element " + std::to_string(i) + " elsewhere");
        }
    }
    if (validator.root_type() == JsonType::object) {
        for (std::size_t i = 0; i < parts.size(); ++i) {
            bool first = true; // object_member_span() finds the first member of that name
            for (std::size_t j = 0; j < i; ++j) {
                first = first && parts[j].key != parts[i].key;
            }
            if (first) {
                FUZZ_CHECK(object_member_span(json, parts[i].key) == parts[i].value,
                           "object_member_span() finds another value for " +
                               std::string(parts[i].key));
            }
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static JsonValidator validator;
    const std::string buffer = fuzz::with_padding(fuzz::as_text(data, size));
    const std::string_view json(buffer.data(), size);
    const JsonResult<void> valid = validator.validate(buffer.data(), json);
    fuzz::check_against_dom(validator, json, valid);
    if (valid) {
        check_scans(validator, json);
    }
    return 0;
}
