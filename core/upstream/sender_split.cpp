#include "core/upstream/sender_split.hpp"

#include "core/json/json_scan.hpp"
#include "core/util/uuid.hpp"

#include <utility>

namespace evrelay {
namespace {

std::string as_array(std::string_view first_element, std::string_view last_element) {
    // The elements of one half are contiguous in the original body, so the bytes from the start
    // of the first to the end of the last (separators included) are copied in one piece.
    const char* begin = first_element.data();
    const char* end = last_element.data() + last_element.size();
    std::string out;
    out.reserve(static_cast<std::size_t>(end - begin) + 2);
    out.push_back('[');
    out.append(begin, end);
    out.push_back(']');
    return out;
}

Payload make_half(const Payload& whole, std::string body, std::size_t events, int which) {
    Payload half;
    half.id = whole.id.empty() ? util::make_uuid_v4()
                               : util::make_uuid_from(whole.id + "/" + std::to_string(which));
    half.env_name = whole.env_name;
    half.sdk = whole.sdk;
    half.data = whole.data;
    half.metadata = whole.metadata;
    half.body = std::move(body);
    half.event_count = events;
    half.passthrough_headers = whole.passthrough_headers;
    half.created = whole.created;
    half.origin = whole.origin;
    return half;
}

} // namespace

std::optional<ArrayHalves> split_array_in_halves(std::string_view array_body) {
    const std::optional<std::vector<std::string_view>> spans = array_element_spans(array_body);
    if (!spans || spans->size() < 2) {
        return std::nullopt;
    }
    const std::vector<std::string_view>& elements = *spans;
    const std::size_t half = elements.size() / 2;
    ArrayHalves halves;
    halves.first = as_array(elements.front(), elements[half - 1]);
    halves.second = as_array(elements[half], elements.back());
    halves.first_events = half;
    halves.second_events = elements.size() - half;
    return halves;
}

std::optional<PayloadHalves> split_payload(Payload& whole) {
    if (whole.data != DataKind::analytics) {
        return std::nullopt;
    }
    std::optional<ArrayHalves> halves = split_array_in_halves(whole.body);
    if (!halves) {
        return std::nullopt;
    }
    const std::size_t total_body = halves->first.size() + halves->second.size();
    PayloadHalves out{make_half(whole, std::move(halves->first), halves->first_events, 1),
                      make_half(whole, std::move(halves->second), halves->second_events, 2)};
    const std::size_t lease_first = whole.lease.bytes() * out.first.body.size() / total_body;
    if (whole.lease.bytes() != 0) {
        out.first.lease = whole.lease.split(lease_first);
    }
    out.second.lease = std::move(whole.lease);
    return out;
}

} // namespace evrelay
