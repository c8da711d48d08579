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
    // The post carried X-LaunchDarkly-Unsummarized (its presence counts, not its value): newer
    // PHP SDKs send schema 4 with it and leave summarising to the relay (SPEC §4, §8).
    bool unsummarized = false;

    bool operator==(const PayloadMetadata&) const = default;
};

struct PayloadMetadataHash {
    std::size_t operator()(const PayloadMetadata& m) const noexcept {
        return (std::hash<std::string>{}(m.tags) * 31u + static_cast<std::size_t>(m.schema_version)) *
                   2u +
               (m.unsummarized ? 1u : 0u);
    }
};

// X-LaunchDarkly-Event-Schema: missing, non-numeric or <= 0 means 1 (SPEC §1).
int parse_schema_version(std::string_view header_value);

// Whether events of this metadata go through the summariser instead of the publisher as they
// are: schema 1–2 (old PHP and very old SDKs), or the Unsummarized mark (SPEC §4).
inline bool needs_summarising(const PayloadMetadata& metadata) {
    return metadata.schema_version <= 2 || metadata.unsummarized;
}

// Builds metadata from the two header values (either may be empty when absent).
PayloadMetadata metadata_from_headers(std::string_view schema_header, std::string_view tags_header);

} // namespace evrelay
