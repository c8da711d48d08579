#include "core/model/metadata.hpp"

#include "core/util/ascii.hpp"

#include <charconv>

namespace evrelay {

namespace {} // namespace

int parse_schema_version(std::string_view header_value) {
    const std::string_view text = util::trim(header_value, util::is_ows);
    int value = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    // Trailing garbage ("4abc"), overflow and non-positive values all mean "unknown", which the
    // SDKs and Relay treat as the oldest schema.
    if (text.empty() || ec != std::errc{} || ptr != end || value <= 0) {
        return 1;
    }
    return value;
}

PayloadMetadata metadata_from_headers(std::string_view schema_header,
                                      std::string_view tags_header) {
    PayloadMetadata metadata;
    metadata.schema_version = parse_schema_version(schema_header);
    metadata.tags = std::string(tags_header);
    return metadata;
}

} // namespace evrelay
