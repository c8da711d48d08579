#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace evrelay {

// An inbound HTTP request as the listener hands it to the request handler: no Boost.Beast types,
// so the handling logic compiles and is tested without the server.
struct HttpRequest {
    std::string method;                                       // "POST", "GET", "OPTIONS", …
    std::string target;                                       // path and query as received
    std::vector<std::pair<std::string, std::string>> headers; // names as received
    std::string body;                                         // as received (maybe gzip)
    bool from_loopback = false;                               // peer address is 127.0.0.0/8 or ::1

    // Case-insensitive header lookup (SDKs send names in any case); empty when absent.
    std::string_view header(std::string_view name) const {
        for (const auto& [key, value] : headers) {
            if (key.size() == name.size() &&
                std::equal(key.begin(), key.end(), name.begin(),
                           [](char a, char b) { return (a | 0x20) == (b | 0x20); })) {
                return value;
            }
        }
        return {};
    }
    bool has_header(std::string_view name) const {
        for (const auto& [key, value] : headers) {
            if (key.size() == name.size() &&
                std::equal(key.begin(), key.end(), name.begin(),
                           [](char a, char b) { return (a | 0x20) == (b | 0x20); })) {
                return true;
            }
        }
        return false;
    }
};

struct HttpResponse {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
};

} // namespace evrelay
