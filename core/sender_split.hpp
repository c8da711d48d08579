#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace evrelay {

// Appends a view of every top-level element of a JSON array body "[e1, e2, …]" to `out`
// (whitespace around elements trimmed). The body is the sender's own well-formed output, so a
// scanner that tracks strings, escapes and nesting depth is enough; no validation beyond that.
// Returns false (appending nothing) when the body is not an array.
bool top_level_elements(std::string_view array_body, std::vector<std::string_view>& out);

// The two halves of an analytics body that the upstream answered 413 (SPEC §2): the first
// floor(n/2) events and the rest, each as its own array body. The events keep their bytes.
struct ArrayHalves {
    std::string first;
    std::string second;
    std::size_t first_events = 0;
    std::size_t second_events = 0;
};

// nullopt when the body holds fewer than two elements (or is not an array): nothing to split.
std::optional<ArrayHalves> split_array_in_halves(std::string_view array_body);

} // namespace evrelay
