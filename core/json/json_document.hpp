#pragma once

#include "core/json/json_error.hpp"
#include "core/json/json_validator.hpp"

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

namespace evrelay {

// A JsonValidator that keeps its own padded copy of the text, for text whose buffer cannot
// promise k_json_padding readable bytes past its end (a slice of a post, a file read whole).
// After a successful parse(), the validator's parts are views into the copy, valid until the
// next parse(). Not thread-safe; reuse one instance so that its buffers stop growing.
class JsonDocument {
  public:
    // Copies `json` and validates the copy (JsonValidator::validate).
    [[nodiscard]] JsonResult<void> parse(std::string_view json);

    const JsonValidator& validator() const { return m_validator; }
    JsonType root_type() const { return m_validator.root_type(); }
    const std::vector<JsonPart>& parts() const { return m_validator.parts(); }
    void parts_of(const JsonPart& container, std::vector<JsonPart>& out) const {
        m_validator.parts_of(container, out);
    }
    // The byte offset in the text parsed of `view`, a view into the copy (a part, a key).
    std::size_t offset_of(std::string_view view) const {
        return static_cast<std::size_t>(view.data() - m_buffer.get());
    }

  private:
    JsonValidator m_validator;
    std::unique_ptr<char[]> m_buffer;
    std::size_t m_capacity = 0;
};

} // namespace evrelay
