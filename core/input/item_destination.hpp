#pragma once

#include "core/input/event_reader.hpp"
#include "core/model/endpoint.hpp"
#include "core/model/metadata.hpp"

#include <optional>
#include <string>

namespace evrelay {

// Where replayed events go when the input does not say (formats 2 and 3), or when a target
// overrides what capture envelopes say (SPEC §5: credentials given override the capture's).
struct ReplayTarget {
    std::optional<std::string> env_name; // all events to this environment
    SdkKind sdk = SdkKind::server;       // for formats 2 and 3
    PayloadMetadata metadata{4, ""};     // for formats 2 and 3
};

// Where one input item's events go: the capture envelope's SDK kind and metadata, and its
// environment unless the target names one; for items without an envelope, the target's.
struct ItemDestination {
    std::string env_name;
    SdkKind sdk = SdkKind::server;
    PayloadMetadata metadata;
};
ItemDestination destination_of(const InputItem& item, const ReplayTarget& target);

} // namespace evrelay
