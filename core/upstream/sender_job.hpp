#pragma once

#include "core/model/counters.hpp"
#include "core/model/payload.hpp"

#include <cstddef>
#include <memory>
#include <string>

namespace evrelay {

// One payload on its way through the sender: accepted by submit(), finished by exactly one
// listener call. Always held by a JobPtr: by a queue, the compression worker, a running
// transfer or the retry queue, never by two of them and never by a raw pointer.
struct SenderJob {
    Payload payload;
    std::string compressed;    // the gzip bytes, made once and reused by every attempt
    std::size_t accounted = 0; // bytes counted in the sender's in-flight bytes for this payload
    int attempts = 0;          // attempts started
    DeliveryCounters* counters = nullptr;
};

using JobPtr = std::unique_ptr<SenderJob>;

} // namespace evrelay
