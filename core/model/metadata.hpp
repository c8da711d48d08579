#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace evrelay {

// What an inbound post says about its events besides the events themselves. Events with
// different metadata are never mixed in one payload (SPEC §1).
struct PayloadMetadata {
    int schema_version = 1;
    std::string tags;

    bool operator==(const PayloadMetadata&) const = default;
};

struct PayloadMetadataHash {
    std::size_t operator()(const PayloadMetadata& m) const noexcept {
        return std::hash<std::string>{}(m.tags) * 31u + static_cast<std::size_t>(m.schema_version);
    }
};

// X-LaunchDarkly-Event-Schema: missing, non-numeric or <= 0 means 1 (SPEC §1).
int parse_schema_version(std::string_view header_value);

// Builds metadata from the two header values (either may be empty when absent).
PayloadMetadata metadata_from_headers(std::string_view schema_header, std::string_view tags_header);

} // namespace evrelay
