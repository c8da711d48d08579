#pragma once

#include <simdjson.h>

#include <string>

namespace evrelay {

// "an array", "a number", … for messages that say what was found where an object was expected.
// Included only by .cpp files that already use simdjson.
inline std::string json_type_name(simdjson::dom::element_type type) {
    using simdjson::dom::element_type;
    switch (type) {
    case element_type::ARRAY:
        return "an array";
    case element_type::OBJECT:
        return "an object";
    case element_type::STRING:
        return "a string";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE:
        return "a number";
    case element_type::BOOL:
        return "a boolean";
    case element_type::NULL_VALUE:
        return "null";
    }
    return "an unknown value";
}

} // namespace evrelay
