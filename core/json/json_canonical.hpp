#pragma once

#include "core/json/json_validator.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace evrelay {

// The canonical text of a JSON value, to compare values by meaning rather than by bytes, as the
// SDKs compare flag values (Go's ldvalue.Equal, which a summarising Relay uses to find the
// variation of a schema-1 event's value): no whitespace; object members sorted by their decoded
// names (of duplicate names the last is kept, as a JSON decoder keeps it); strings decoded and
// re-encoded the one way util's append_json_string writes them; numbers as the shortest text of
// their double, so 1, 1.0 and 1e0 are all "1" and -0 is "0" (a number beyond a double's range
// keeps its text). Two values are equal exactly when their canonical texts are.

// Appends the canonical text of `part`, a part of the text `validator` last validated.
void append_canonical_json(const JsonValidator& validator, const JsonPart& part, std::string& out);

// The canonical text of `json` (any JSON text); nullopt when it is not valid JSON.
std::optional<std::string> canonical_json(std::string_view json);

} // namespace evrelay
