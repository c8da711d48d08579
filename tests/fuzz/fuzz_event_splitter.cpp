// EventSplitter (core/json) on any bytes, in a buffer of exactly the text's size (the splitter
// must copy rather than read past it) and in one with the padding: split_array() accepts exactly
// the arrays of objects that simdjson's DOM parser accepts (json_oracle.hpp; a JsonValidator of
// its own gives the verdict that simdjson's is compared with), cuts the events simdjson finds and
// appends nothing when it refuses; validate_json(), validate_object() and kind_of() agree; the
// 413 split (core/upstream/sender_split.hpp) of an accepted array gives two arrays of the same
// events.

#include "tests/fuzz/fuzz_support.hpp"
#include "tests/fuzz/json_oracle.hpp"

#include "core/json/event_splitter.hpp"
#include "core/json/json_string.hpp"
#include "core/json/json_validator.hpp"
#include "core/upstream/sender_split.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

using namespace evrelay;

namespace {

// What the reference validator found: is it an array whose elements are all objects?
bool is_array_of_objects(const JsonValidator& validator) {
    if (validator.root_type() != JsonType::array) {
        return false;
    }
    for (const JsonPart& part : validator.parts()) {
        if (part.type != JsonType::object) {
            return false;
        }
    }
    return true;
}

// The "kind" member kind_of() must find: the first member written "kind", when a string.
std::string expected_kind(const JsonValidator& validator) {
    for (const JsonPart& part : validator.parts()) {
        if (part.key == "kind") {
            if (part.type != JsonType::string) {
                return {};
            }
            return json_string_value(part.value.substr(1, part.value.size() - 2));
        }
    }
    return {};
}

void check_halves(const std::vector<std::string_view>& events, std::string_view json) {
    static JsonValidator validator;
    const std::optional<ArrayHalves> halves = split_array_in_halves(json);
    FUZZ_CHECK(halves.has_value() == (events.size() >= 2),
               "split_array_in_halves() splits what it should not, or not what it should");
    if (!halves) {
        return;
    }
    FUZZ_CHECK(halves->first_events == events.size() / 2 &&
                   halves->first_events + halves->second_events == events.size(),
               "the halves do not count floor(n/2) events and the rest");
    std::size_t n = 0;
    for (const std::string* half : {&halves->first, &halves->second}) {
        const std::string buffer = fuzz::with_padding(*half);
        FUZZ_CHECK(validator.validate(buffer.data(), std::string_view(buffer.data(), half->size())),
                   "a half is not valid JSON: " + half->substr(0, 200));
        FUZZ_CHECK(validator.root_type() == JsonType::array, "a half is not an array");
        for (const JsonPart& part : validator.parts()) {
            FUZZ_CHECK(n < events.size() && part.value == events[n],
                       "a half holds another event than the whole's");
            ++n;
        }
    }
    FUZZ_CHECK(n == events.size(), "the halves lose events");
}

void check_splitter(EventSplitter& splitter, const JsonValidator& reference, bool reference_ok,
                    std::string_view json, std::size_t capacity) {
    std::vector<std::string_view> events{"sentinel"};
    const JsonResult<void> split = splitter.split_array(json, capacity, events);
    const bool want_split = reference_ok && is_array_of_objects(reference);
    FUZZ_CHECK(split.has_value() == want_split,
               split ? "split_array() accepts what is not a valid array of objects"
                     : "split_array() rejects a valid array of objects: " + split.error().message);
    if (!split) {
        FUZZ_CHECK(events.size() == 1, "split_array() appended events and then refused");
        FUZZ_CHECK(split.error().offset <= json.size() && !split.error().message.empty(),
                   "split_array()'s rejection is not located");
    } else {
        FUZZ_CHECK(events.size() == reference.parts().size() + 1, "split_array() counts wrong");
        for (std::size_t i = 0; i < reference.parts().size(); ++i) {
            FUZZ_CHECK(events[i + 1] == reference.parts()[i].value,
                       "split_array() cuts event " + std::to_string(i) + " elsewhere");
        }
        events.erase(events.begin());
        check_halves(events, json);
    }

    const JsonResult<void> any = splitter.validate_json(json, capacity);
    FUZZ_CHECK(any.has_value() == reference_ok, "validate_json() and the validator disagree");
    const JsonResult<void> object = splitter.validate_object(json, capacity);
    const bool want_object = reference_ok && reference.root_type() == JsonType::object;
    FUZZ_CHECK(object.has_value() == want_object, "validate_object() disagrees");
    if (!object) {
        FUZZ_CHECK(object.error().offset <= json.size(), "validate_object() offset past the text");
    } else {
        FUZZ_CHECK(splitter.kind_of(json) == expected_kind(reference),
                   "kind_of() finds another kind");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static EventSplitter splitter;
    static JsonValidator reference;
    const std::string_view text = fuzz::as_text(data, size);

    const std::string padded = fuzz::with_padding(text);
    const std::string_view json(padded.data(), size);
    const JsonResult<void> valid = reference.validate(padded.data(), json);
    fuzz::check_against_dom(reference, json, valid);
    check_splitter(splitter, reference, valid.has_value(), json, padded.size());

    // The same text with nothing readable past it: ASan reports any read beyond.
    const auto exact = std::make_unique<char[]>(size == 0 ? 1 : size);
    std::memcpy(exact.get(), text.data(), size);
    check_splitter(splitter, reference, valid.has_value(), std::string_view(exact.get(), size),
                   size);
    return 0;
}
