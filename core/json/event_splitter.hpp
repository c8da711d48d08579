#pragma once

#include "core/json/json_error.hpp"
#include "core/json/json_validator.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace evrelay {

// Validates JSON fully (structure and UTF-8; JsonValidator) and cuts it into the raw bytes of
// its events, without copying or re-serialising them. One instance per thread: it keeps
// simdjson's parsers and buffers between calls.
class EventSplitter {
  public:
    EventSplitter();
    ~EventSplitter();
    EventSplitter(const EventSplitter&) = delete;
    EventSplitter& operator=(const EventSplitter&) = delete;

    // `json` must be a JSON array whose elements are all objects; appends a view of each
    // element to `out` (views into `json`, without trailing whitespace). On error nothing is
    // appended; errors about one element name its 0-based index ("element 3 is a string, not an
    // object") and give the element's offset.
    // `padded_capacity` is how many bytes starting at json.data() may be read (>= size + 64
    // avoids a copy); pass json.size() when unknown.
    [[nodiscard]] JsonResult<void> split_array(std::string_view json, std::size_t padded_capacity,
                                               std::vector<std::string_view>& out);

    // `json` must be one JSON text of any type (structure and UTF-8 checked).
    [[nodiscard]] JsonResult<void> validate_json(std::string_view json,
                                                 std::size_t padded_capacity);

    // `json` must be one JSON object (an NDJSON line or a diagnostic body).
    [[nodiscard]] JsonResult<void> validate_object(std::string_view json,
                                                   std::size_t padded_capacity);

    // After a successful split_array(): the validator whose parts() are the elements it
    // appended, in order (their members can be read with parts_of() without indexing them
    // again). Valid until the next call.
    const JsonValidator& validator() const;

    // Reads the "kind" member of an object already validated; empty when absent or not a string.
    std::string kind_of(std::string_view object_json);

  private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace evrelay
