#pragma once

#include "core/model/payload.hpp"

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
// The body is the publisher's own validated output, so array_element_spans finds the
// events without parsing them again.
std::optional<ArrayHalves> split_array_in_halves(std::string_view array_body);

struct PayloadHalves {
    Payload first;
    Payload second;
};

// The halves of an analytics payload the upstream answered 413, as payloads of their own: the
// whole's environment, kinds, metadata, pass-through headers, creation time and origin; IDs
// derived from the whole's, so that the same payload split again (a spool line re-sent after one
// half got through) gives the same halves the same IDs and the upstream de-duplicates the half it
// already has; the whole's lease divided between them by body bytes (the whole's is then empty).
// nullopt, and `whole` untouched, when it is not an analytics payload of two or more events.
std::optional<PayloadHalves> split_payload(Payload& whole);

} // namespace evrelay
