#pragma once

// What a payload becomes upstream (core/upstream/upstream_request.hpp): every header value must
// be one HTTP field value. A CR or LF in one (from a payload ID or tags read off a capture line,
// a spool line or an inbound header) would end the header there and start another: libcurl
// sends custom headers as they are given.

#include "tests/fuzz/fuzz_support.hpp"

#include "core/model/environment.hpp"
#include "core/model/payload.hpp"
#include "core/upstream/upstream_request.hpp"

#include <string>
#include <string_view>

namespace evrelay::fuzz {

inline bool is_field_value(std::string_view value) {
    for (const char c : value) {
        const auto byte = static_cast<unsigned char>(c);
        if ((byte < 0x20 && c != '\t') || byte == 0x7f) {
            return false;
        }
    }
    return true;
}

inline void check_upstream_headers(const Payload& payload) {
    Environment environment;
    environment.name = payload.env_name;
    environment.sdk_key = "sdk-fuzz-key";
    environment.mobile_key = "mob-fuzz-key";
    environment.env_id = "fuzz-client-side-id";
    const Result<UpstreamRequest> request = describe_upstream_request(
        payload, environment,
        UpstreamRequestOptions{"https://events.invalid", "evrelay-fuzz", true});
    FUZZ_CHECK(request.has_value(), "no upstream request for a payload with every credential");
    for (const auto& [name, value] : request->headers) {
        FUZZ_CHECK(is_field_value(value),
                   "upstream header " + name + " holds a control character: " + value);
    }
}

} // namespace evrelay::fuzz
