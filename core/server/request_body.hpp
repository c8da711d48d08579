// Internal to core/server: included by http_server.cpp (through session.hpp), the one unit that
// compiles Boost.Beast, and by tests/fuzz/fuzz_inbound_request.cpp. How a request is read: its body
// type (a string with simdjson's padding reserved), the parser, feeding it what is buffered, and
// handing the parsed message over as an HttpRequest. The body is kept as sent: a gzip body is
// inflated by the inbound handler, not here; Beast's parser removes the chunked framing.
#pragma once

#include "core/inbound/http_exchange.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>

namespace evrelay::server_detail {

// A body is read into a string with this much spare capacity past its end: simdjson reads up to
// 64 bytes past the JSON (SIMDJSON_PADDING), and with that room the inbound handler and the
// splitter parse the body in place instead of reallocating and copying it.
constexpr std::size_t k_body_padding_bytes = 64;

// A request body read into a std::string, as http::string_body, except that the reader reserves
// Content-Length plus k_body_padding_bytes up front and appends (string_body resizes, which
// zero-fills, then copies), so the body never needs to grow for simdjson's padding. (The
// error_code out-parameters are Beast's BodyReader interface.)
struct RequestBody {
    using value_type = std::string;

    static std::uint64_t size(const value_type& body) { return body.size(); }

    class reader {
      public:
        template <bool is_request, class Fields>
        reader(boost::beast::http::header<is_request, Fields>&, value_type& body) : m_body(body) {}

        void init(const boost::optional<std::uint64_t>& length, boost::beast::error_code& ec) {
            if (length) {
                if (*length > m_body.max_size() - k_body_padding_bytes) {
                    ec = boost::beast::http::error::buffer_overflow;
                    return;
                }
                m_body.reserve(static_cast<std::size_t>(*length) + k_body_padding_bytes);
            }
            ec = {};
        }

        template <class ConstBufferSequence>
        std::size_t put(const ConstBufferSequence& buffers, boost::beast::error_code& ec) {
            const std::size_t bytes = boost::beast::buffer_bytes(buffers);
            if (bytes > m_body.max_size() - m_body.size()) {
                ec = boost::beast::http::error::buffer_overflow;
                return 0;
            }
            for (const auto buffer : boost::beast::buffers_range_ref(buffers)) {
                m_body.append(static_cast<const char*>(buffer.data()), buffer.size());
            }
            ec = {};
            return bytes;
        }

        void finish(boost::beast::error_code& ec) { ec = {}; }

      private:
        value_type& m_body;
    };
};

using RequestParser = boost::beast::http::request_parser<RequestBody>;

// A fresh parser per request (Beast's parsers are not reusable), with the server's limits.
inline void start_parser(std::optional<RequestParser>& parser, std::size_t max_header_bytes,
                         std::size_t max_body_bytes) {
    parser.emplace();
    parser->header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
    parser->body_limit(static_cast<std::uint64_t>(max_body_bytes));
}

// Feeds the parser what `buffer` already holds, up to the end of the header (header_only) or of
// the message, without a trip through the event loop (Beast's read operations post their
// completion even when they read nothing). Returns the parse error, if any; needing more input is
// not one.
inline boost::beast::error_code
parse_buffered(RequestParser& parser, boost::beast::flat_buffer& buffer, bool header_only) {
    boost::beast::error_code ec;
    while (buffer.size() > 0 && !(header_only ? parser.is_header_done() : parser.is_done())) {
        const std::size_t used = parser.put(buffer.data(), ec);
        buffer.consume(used);
        if (ec == boost::beast::http::error::need_more) {
            return {};
        }
        if (ec) {
            return ec;
        }
        if (used == 0) {
            break; // let Beast's read operation take it from here
        }
    }
    return {};
}

// Errors of the HTTP grammar (the client sent something that is not HTTP/1.1), as opposed to the
// connection ending or a limit.
inline bool is_parse_error(const boost::beast::error_code& ec) {
    namespace http = boost::beast::http;
    static const boost::beast::error_code any_http = http::error::bad_target;
    return ec.category() == any_http.category() && ec != http::error::end_of_stream &&
           ec != http::error::partial_message && ec != http::error::short_read &&
           ec != http::error::body_limit && ec != http::error::header_limit;
}

// The parsed message as the request handler takes it; the body is moved, not copied.
inline HttpRequest take_request(boost::beast::http::request<RequestBody>& message,
                                bool from_loopback) {
    HttpRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    for (const auto& field : message) {
        request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    request.body = std::move(message.body());
    request.from_loopback = from_loopback;
    return request;
}

} // namespace evrelay::server_detail
