#include "core/json/json_document.hpp"

#include <algorithm>
#include <cstring>

namespace evrelay {

JsonResult<void> JsonDocument::parse(std::string_view json) {
    const std::size_t needed = json.size() + k_json_padding;
    if (m_capacity < needed) {
        // Grows by half at least, so that a run of slowly growing texts does not reallocate
        // each time.
        m_capacity = std::max(needed, m_capacity * 3 / 2);
        m_buffer = std::make_unique_for_overwrite<char[]>(m_capacity);
    }
    if (!json.empty()) {
        std::memcpy(m_buffer.get(), json.data(), json.size());
    }
    std::memset(m_buffer.get() + json.size(), 0, k_json_padding);
    return m_validator.validate(m_buffer.get(), std::string_view(m_buffer.get(), json.size()));
}

} // namespace evrelay
