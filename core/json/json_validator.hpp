#pragma once

#include "core/json/json_error.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace evrelay {

// Readable bytes the validator may read past the end of the text (simdjson::SIMDJSON_PADDING,
// checked in json_validator.cpp): buffers handed to it keep this much after the JSON.
inline constexpr std::size_t k_json_padding = 64;

enum class JsonType { array, object, string, number, boolean, null };

// "an array", "an object", "a string", "a number", "a boolean", "null": for error messages.
std::string json_type_name(JsonType type);

// One element of an array, or one member of an object, as raw bytes of the text validated.
struct JsonPart {
    std::string_view key;   // an object member's key as written, without quotes (maybe escaped)
    std::string_view value; // the value's bytes, without surrounding whitespace
    JsonType type = JsonType::null;
    std::uint32_t first = 0; // structural index entries of the value: [first, end)
    std::uint32_t end = 0;
};

// Validates one JSON text (RFC 8259, UTF-8) and reports where the parts of its root are, in one
// pass, without building a document.
//
// simdjson's stage 1 (its runtime-dispatched SIMD kernel: AVX-512 or AVX2 where the CPU has it)
// indexes the text's structural characters and checks UTF-8, string termination and unescaped
// control characters; a walk over that index then checks the grammar, the numbers, the literals
// and the string escapes — everything simdjson's DOM stage 2 checks, except that numbers are not
// converted (so 1e400 and 20-digit integers pass, as RFC 8259 allows) and a lone UTF-16
// surrogate escape passes (as it does in Go, which the Relay Proxy is written in). Building no
// tape is what makes it ~3 x cheaper than a DOM parse of an SDK post (bench/README.md, "Serve").
//
// Not thread-safe; keep one per thread: it keeps simdjson's buffers between calls.
class JsonValidator {
  public:
    JsonValidator();
    ~JsonValidator();
    JsonValidator(const JsonValidator&) = delete;
    JsonValidator& operator=(const JsonValidator&) = delete;

    // `buffer` holds `json`'s bytes followed by at least k_json_padding readable
    // bytes (it may be json.data() itself). A rejection says where the text goes wrong (its size
    // when it is cut short) and why; valid text allocates nothing (once the buffers have grown).
    [[nodiscard]] JsonResult<void> validate(const char* buffer, std::string_view json);

    // After a successful validate(): the root value, its type, and the parts of the root when it
    // is an array or an object (empty otherwise). Views into the text validated.
    JsonType root_type() const { return m_root.type; }
    std::string_view root() const { return m_root.value; }
    // The root as a part (no key), to pass to parts_of() or to walk as any other part.
    const JsonPart& root_part() const { return m_root; }
    const std::vector<JsonPart>& parts() const { return m_parts; }

    // After a successful validate(): appends the parts of `container` (one of parts(), an array
    // or an object) to `out`.
    void parts_of(const JsonPart& container, std::vector<JsonPart>& out) const;

  private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
    JsonPart m_root;
    std::vector<JsonPart> m_parts;
};

} // namespace evrelay
