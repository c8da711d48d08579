// The answer of a request as bytes: the status line and headers serialised by hand, as Beast's
// serializer would write them (a Date cached per second, Connection and Content-Length made
// by the server), and the body. No Beast or Asio here: the session writes the two buffers.
#pragma once

#include "core/inbound/http_exchange.hpp"

#include <string>
#include <string_view>

namespace evrelay::server_detail {

// One per session, reused from one answer to the next, so that the head's buffer is allocated
// once per connection rather than once per request.
class ResponseWriter {
  public:
    // Serialises `response`'s status line and headers into head() and takes its body into
    // body(). The status is one of 100–599 (the session answers 500 for any other); the
    // handler's Content-Length, Transfer-Encoding and Connection headers are dropped (the server
    // frames the answer); a status that forbids a body (1xx, 204, 304) is sent without one.
    void compose(HttpResponse&& response, unsigned version, bool keep_alive);

    const std::string& head() const { return m_head; }
    const std::string& body() const { return m_body; }

    // Whether the connection closes once this answer is written (compose's keep_alive).
    bool close_after() const { return m_close_after; }

    // The answer was written (or failed): drops the body, and its buffer too when it was large
    // (e.g. /metrics), so an idle connection does not keep it.
    void written();

  private:
    std::string m_head;
    std::string m_body;
    bool m_close_after = false;
};

// An answer the server makes itself (413, 431, 400, 500): {"message":"…"} as JSON.
HttpResponse error_response(int status, std::string_view message);

} // namespace evrelay::server_detail
