#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace evrelay {

// The two halves of an analytics body that the upstream answered 413 (SPEC §2): the first
// floor(n/2) events and the rest, each as its own array body. The events keep their bytes.
struct ArrayHalves {
    std::string first;
    std::string second;
    std::size_t first_events = 0;
    std::size_t second_events = 0;
};

// nullopt when the body holds fewer than two elements (or is not an array): nothing to split.
// The body is the publisher's own validated output, so util::array_element_spans finds the
// events without parsing them again.
std::optional<ArrayHalves> split_array_in_halves(std::string_view array_body);

} // namespace evrelay
