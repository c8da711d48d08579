#include "core/model/payload.hpp"

namespace evrelay {

std::string join_events(const std::vector<std::string_view>& events) {
    std::size_t size = 2;
    for (const std::string_view event : events) {
        size += event.size() + 1;
    }
    std::string body;
    body.reserve(size);
    body.push_back('[');
    for (std::size_t i = 0; i < events.size(); ++i) {
        if (i != 0) {
            body.push_back(',');
        }
        body.append(events[i]);
    }
    body.push_back(']');
    return body;
}

} // namespace evrelay
