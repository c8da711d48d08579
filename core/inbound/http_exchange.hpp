#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
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

struct HttpResponse;

// Takes the answer to a deferred request (see HttpResponse::deferred). Thread-safe: call it once,
// from any thread.
using HttpResponder = std::function<void(HttpResponse)>;

struct HttpResponse {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;

    // Set when the answer is not known yet (a durable post: it comes once the spool's group
    // commit has synced the line). Then status, headers and body are ignored: the listener
    // calls `deferred` once, right after the handler returned, with a responder, and writes
    // what the responder is given, whenever that is. The connection reads nothing more until
    // then. A responder dropped without being called closes the connection unanswered.
    std::function<void(HttpResponder)> deferred;

    // A response whose answer `start` hands to the responder later.
    static HttpResponse later(std::function<void(HttpResponder)> start) {
        HttpResponse response;
        response.deferred = std::move(start);
        return response;
    }
};

} // namespace evrelay
