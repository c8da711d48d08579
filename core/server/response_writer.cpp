#include "core/server/response_writer.hpp"

#include "core/util/ascii.hpp"

#include <boost/beast/http/status.hpp>

#include <algorithm>
#include <cstddef>
#include <ctime>
#include <utility>

namespace evrelay::server_detail {

namespace {

// A body buffer larger than this is not kept between answers (the idle read's largest size).
constexpr std::size_t k_max_kept_body_bytes = 64 * 1024;

// The Date header's value, formatted once per second per thread (strftime per answer showed up
// in profiles).
std::string_view http_date() {
    thread_local std::time_t cached_second = -1;
    thread_local char buffer[64];
    thread_local std::size_t length = 0;
    const std::time_t now = std::time(nullptr);
    if (now != cached_second) {
        std::tm tm{};
        gmtime_r(&now, &tm);
        length = std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached_second = now;
    }
    return std::string_view(buffer, length);
}

// Statuses whose response may carry neither a body nor a Content-Length (RFC 9110 §8.6).
bool status_forbids_body(int status) {
    return (status >= 100 && status < 200) || status == 204 || status == 304;
}

// {"message":"…"}: the messages are ours and Beast's (ASCII), so escaping quotes, backslashes and
// control characters is all it needs.
std::string json_message(std::string_view message) {
    std::string out = "{\"message\":\"";
    for (const char c : message) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            out += ' ';
        } else {
            out += c;
        }
    }
    out += "\"}";
    return out;
}

} // namespace

void ResponseWriter::compose(HttpResponse&& response, unsigned version, bool keep_alive) {
    const int status = response.status;
    const bool has_body = !status_forbids_body(status);
    std::string& head = m_head;
    head.clear();
    head += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    head += std::to_string(status);
    head += ' ';
    head += boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status));
    head += "\r\n";
    bool has_date = false;
    for (const auto& [name, value] : response.headers) {
        // Framing and connection headers are the server's, as prepare_payload() and
        // keep_alive() made them with Beast's serializer.
        if (util::iequals(name, "Content-Length") || util::iequals(name, "Transfer-Encoding") ||
            util::iequals(name, "Connection")) {
            continue;
        }
        has_date = has_date || util::iequals(name, "Date");
        head.append(name).append(": ").append(value).append("\r\n");
    }
    if (!has_date) {
        head.append("Date: ").append(http_date()).append("\r\n");
    }
    if (version >= 11 && !keep_alive) {
        head += "Connection: close\r\n";
    } else if (version < 11 && keep_alive) {
        head += "Connection: keep-alive\r\n";
    }
    if (has_body) {
        head.append("Content-Length: ").append(std::to_string(response.body.size()));
        head += "\r\n";
        m_body = std::move(response.body);
    } else {
        m_body.clear();
    }
    head += "\r\n";
    m_close_after = !keep_alive;
}

void ResponseWriter::written() {
    m_body.clear();
    if (m_body.capacity() > k_max_kept_body_bytes) {
        m_body.shrink_to_fit(); // a large answer (e.g. /metrics) is not kept
    }
}

HttpResponse error_response(int status, std::string_view message) {
    return HttpResponse{status, {{"Content-Type", "application/json"}}, json_message(message), {}};
}

} // namespace evrelay::server_detail
