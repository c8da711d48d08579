#include "core/model/capture_record.hpp"

#include "core/util/json_writer.hpp"

#include <cstdio>
#include <cstring>

namespace evrelay {

namespace {

// Days since 1970-01-01 for a proleptic Gregorian date, and back (H. Hinnant's algorithms):
// exact for any year, unlike gmtime/timegm which depend on the C library's time_t range.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0);
}

bool parse_digits(std::string_view text, std::size_t pos, std::size_t count, unsigned& value) {
    if (pos + count > text.size()) {
        return false;
    }
    value = 0;
    for (std::size_t i = pos; i < pos + count; ++i) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
        value = value * 10 + static_cast<unsigned>(text[i] - '0');
    }
    return true;
}

unsigned days_in_month(std::int64_t year, unsigned month) {
    static constexpr unsigned k_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : k_days[month - 1];
}

} // namespace

// The envelope's strings come from JSON (valid UTF-8) or from HTTP headers (X-LaunchDarkly-Tags,
// X-LaunchDarkly-Payload-ID: any byte but a control character). util::append_json_string turns a
// byte that is not UTF-8 into U+FFFD, so the line is always valid JSON and reads back: a raw byte
// made the line of an accepted post unreadable — a spooled post went to bad/ instead of
// upstream (found by tests/fuzz/fuzz_inbound_request).
void append_capture_line(std::string& out, const CaptureRecord& record) {
    out += R"({"v":1,"received":")";
    out += format_timestamp(record.received);
    out += R"(","env":)";
    util::append_json_string(out, record.env_name);
    out += R"(,"sdk":")";
    out += to_string(record.sdk);
    out += R"(","kind":")";
    out += to_string(record.kind);
    out += R"(","schema":)";
    out += std::to_string(record.metadata.schema_version);
    if (!record.metadata.tags.empty()) {
        out += R"(,"tags":)";
        util::append_json_string(out, record.metadata.tags);
    }
    if (record.metadata.unsummarized) {
        out += R"(,"unsummarized":true)";
    }
    if (record.payload_id) {
        out += R"(,"payloadId":)";
        util::append_json_string(out, *record.payload_id);
    }
    out += record.kind == DataKind::diagnostic ? R"(,"event":)" : R"(,"events":)";
    const std::size_t events_at = out.size();
    out += record.events_json;
    // A pretty-printed body has line breaks between its tokens (never inside strings, where JSON
    // requires them escaped). They would split the record, so they become spaces: same length,
    // same JSON, and the events' content is unchanged.
    if (std::memchr(record.events_json.data(), '\n', record.events_json.size()) != nullptr ||
        std::memchr(record.events_json.data(), '\r', record.events_json.size()) != nullptr) {
        for (std::size_t i = events_at; i < out.size(); ++i) {
            if (out[i] == '\n' || out[i] == '\r') {
                out[i] = ' ';
            }
        }
    }
    out += "}\n";
}

std::string format_timestamp(std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    const auto ms = floor<milliseconds>(t).time_since_epoch().count();
    const std::int64_t ms_per_day = 86'400'000;
    std::int64_t days = ms / ms_per_day;
    std::int64_t in_day = ms % ms_per_day;
    if (in_day < 0) {
        in_day += ms_per_day;
        --days;
    }
    std::int64_t year = 0;
    unsigned month = 0;
    unsigned day = 0;
    civil_from_days(days, year, month, day);
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ",
                  static_cast<long long>(year), month, day,
                  static_cast<unsigned>(in_day / 3'600'000),
                  static_cast<unsigned>(in_day / 60'000 % 60),
                  static_cast<unsigned>(in_day / 1000 % 60), static_cast<unsigned>(in_day % 1000));
    return buffer;
}

// Accepts what format_timestamp writes, and also whole seconds or 1 to 9 fraction digits
// (kept to the millisecond), always in UTC ('Z').
std::optional<std::chrono::system_clock::time_point> parse_timestamp(std::string_view text) {
    unsigned year = 0;
    unsigned month = 0;
    unsigned day = 0;
    unsigned hour = 0;
    unsigned minute = 0;
    unsigned second = 0;
    if (text.size() < 20 || !parse_digits(text, 0, 4, year) || text[4] != '-' ||
        !parse_digits(text, 5, 2, month) || text[7] != '-' || !parse_digits(text, 8, 2, day) ||
        text[10] != 'T' || !parse_digits(text, 11, 2, hour) || text[13] != ':' ||
        !parse_digits(text, 14, 2, minute) || text[16] != ':' ||
        !parse_digits(text, 17, 2, second)) {
        return std::nullopt;
    }
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
        minute > 59 || second > 59) {
        return std::nullopt;
    }
    std::size_t pos = 19;
    unsigned millis = 0;
    if (text[pos] == '.') {
        ++pos;
        const std::size_t start = pos;
        unsigned scale = 100;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
            millis += static_cast<unsigned>(text[pos] - '0') * scale;
            scale /= 10;
            ++pos;
        }
        if (pos == start || pos - start > 9) {
            return std::nullopt;
        }
    }
    if (pos + 1 != text.size() || text[pos] != 'Z') {
        return std::nullopt;
    }
    using namespace std::chrono;
    const std::int64_t days = days_from_civil(year, month, day);
    const auto since_epoch = milliseconds(((days * 24 + hour) * 60 + minute) * 60'000 +
                                          static_cast<std::int64_t>(second) * 1000 + millis);
    // system_clock counts nanoseconds in 64 bits: about years 1678 to 2261.
    if (since_epoch > duration_cast<milliseconds>(system_clock::duration::max()) ||
        since_epoch < duration_cast<milliseconds>(system_clock::duration::min())) {
        return std::nullopt;
    }
    return system_clock::time_point(duration_cast<system_clock::duration>(since_epoch));
}

} // namespace evrelay
