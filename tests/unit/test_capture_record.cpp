#include "core/model/capture_record.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <ctime>
#include <string>

using evrelay::CaptureRecord;
using evrelay::DataKind;
using evrelay::SdkKind;
using std::chrono::milliseconds;
using std::chrono::system_clock;

namespace {

// An independent reference: the C library's timegm.
system_clock::time_point utc(int year, int month, int day, int hour, int minute, int second,
                             int millis) {
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    return system_clock::from_time_t(timegm(&tm)) + milliseconds(millis);
}

} // namespace

TEST_CASE("capture_record::format_timestamp", "[reader]") {
    CHECK(evrelay::format_timestamp(utc(2026, 11, 26, 23, 19, 43, 123)) ==
          "2026-11-26T23:19:43.123Z");
    CHECK(evrelay::format_timestamp(system_clock::time_point{}) == "1970-01-01T00:00:00.000Z");
    CHECK(evrelay::format_timestamp(utc(2024, 2, 29, 0, 0, 0, 7)) == "2024-02-29T00:00:00.007Z");
    CHECK(evrelay::format_timestamp(utc(1969, 12, 31, 23, 59, 59, 999)) ==
          "1969-12-31T23:59:59.999Z");
    // Sub-millisecond parts are dropped, not rounded.
    CHECK(evrelay::format_timestamp(utc(2026, 1, 2, 3, 4, 5, 6) + std::chrono::microseconds(999)) ==
          "2026-01-02T03:04:05.006Z");
}

TEST_CASE("capture_record::parse_timestamp", "[reader]") {
    CHECK(evrelay::parse_timestamp("2026-11-26T23:19:43.123Z") ==
          utc(2026, 11, 26, 23, 19, 43, 123));
    CHECK(evrelay::parse_timestamp("2024-02-29T12:00:00Z") == utc(2024, 2, 29, 12, 0, 0, 0));
    CHECK(evrelay::parse_timestamp("2024-02-29T12:00:00.5Z") == utc(2024, 2, 29, 12, 0, 0, 500));
    CHECK(evrelay::parse_timestamp("2024-02-29T12:00:00.123456789Z") ==
          utc(2024, 2, 29, 12, 0, 0, 123));
    CHECK(evrelay::parse_timestamp("1969-12-31T23:59:59.999Z") ==
          utc(1969, 12, 31, 23, 59, 59, 999));

    for (const char* bad :
         {"", "2026-11-26", "2026-11-26T23:19:43.123", "2026-11-26T23:19:43.Z",
          "2026-13-01T00:00:00Z", "2023-02-29T00:00:00Z", "2026-11-26T24:00:00Z",
          "2026-11-26 23:19:43Z", "2026-11-26T23:19:43.123+01:00",
          "2026-11-26T23:19:43.1234567890Z", "2026-1a-26T23:19:43Z", "2026-11-26T23:19:43.123Zx",
          "9999-12-31T23:59:59.999Z"}) { // beyond system_clock's range
        INFO(bad);
        CHECK_FALSE(evrelay::parse_timestamp(bad));
    }

    SECTION("round trip") {
        for (std::int64_t ms : {0LL, 1LL, 1'795'736'414'686LL, -1LL, 4'102'444'800'123LL}) {
            const system_clock::time_point t{milliseconds(ms)};
            CHECK(evrelay::parse_timestamp(evrelay::format_timestamp(t)) == t);
        }
    }
}

TEST_CASE("capture_record::append_capture_line", "[reader]") {
    CaptureRecord record;
    record.received = utc(2026, 11, 26, 23, 19, 43, 123);
    record.env_name = "production";
    record.sdk = SdkKind::server;
    record.kind = DataKind::analytics;
    record.metadata.schema_version = 4;
    record.metadata.tags = "application-id/web";
    record.payload_id = "1f9d6b12-4e86-4763-85e5-2ae1196a214b";
    record.events_json = R"([{"kind":"custom","key":"a"}, {"kind":"identify"}])";
    std::string out = "previous\n";

    SECTION("every field, in the documented order") {
        evrelay::append_capture_line(out, record);
        CHECK(out == "previous\n"
                     R"({"v":1,"received":"2026-11-26T23:19:43.123Z","env":"production",)"
                     R"("sdk":"server","kind":"analytics","schema":4,"tags":"application-id/web",)"
                     R"("payloadId":"1f9d6b12-4e86-4763-85e5-2ae1196a214b",)"
                     R"("events":[{"kind":"custom","key":"a"}, {"kind":"identify"}]})"
                     "\n");
    }

    SECTION("the Unsummarized mark, after the tags") {
        record.metadata.unsummarized = true;
        evrelay::append_capture_line(out, record);
        CHECK(out.find(R"("tags":"application-id/web","unsummarized":true,"payloadId":)") !=
              std::string::npos);
    }

    SECTION("tags and payload ID absent; diagnostic; mobile") {
        record.metadata.tags.clear();
        record.payload_id.reset();
        record.kind = DataKind::diagnostic;
        record.sdk = SdkKind::mobile;
        record.metadata.schema_version = 1;
        record.events_json = R"({"kind":"diagnostic-init"})";
        evrelay::append_capture_line(out, record);
        CHECK(out == "previous\n"
                     R"({"v":1,"received":"2026-11-26T23:19:43.123Z","env":"production",)"
                     R"("sdk":"mobile","kind":"diagnostic","schema":1,)"
                     R"("event":{"kind":"diagnostic-init"}})"
                     "\n");
    }

    SECTION("strings are escaped and the line stays valid JSON") {
        record.env_name = "te\"st\\\n\x01é";
        record.metadata.tags = "a/b c";
        out.clear();
        evrelay::append_capture_line(out, record);
        CHECK(out.find(R"("env":"te\"st\\\n\u0001é")") != std::string::npos);
        simdjson::dom::parser parser;
        simdjson::dom::element line = parser.parse(out).value();
        CHECK(std::string_view(line["env"].get_string().value()) == record.env_name);
        CHECK(std::string_view(line["tags"].get_string().value()) == "a/b c");
        CHECK(line["events"].get_array().size() == 2);
    }

    // Found by tests/fuzz/fuzz_inbound_request: an SDK post whose X-LaunchDarkly-Tags (or
    // Payload-ID) header held a byte that is not UTF-8 (HTTP allows them) was accepted, and its
    // capture line — its spool line too — was not valid JSON: replay refused it, and the spool
    // moved an acknowledged post to bad/ instead of delivering it.
    SECTION("header bytes that are not UTF-8 become U+FFFD, so the line reads back") {
        record.metadata.tags = "application-id/fix\xff\xfeture";
        record.payload_id = "id-\xc3";
        out.clear();
        evrelay::append_capture_line(out, record);
        CHECK(out.find(R"("tags":"application-id/fix\ufffd\ufffdture")") != std::string::npos);
        CHECK(out.find(R"("payloadId":"id-\ufffd")") != std::string::npos);
        simdjson::dom::parser parser;
        simdjson::dom::element line = parser.parse(out).value();
        CHECK(std::string_view(line["tags"].get_string().value()) ==
              "application-id/fix\xef\xbf\xbd\xef\xbf\xbdture");
        CHECK(line["events"].get_array().size() == 2);
    }

    SECTION("a pretty-printed body still makes one line") {
        const std::string pretty = "[\n  {\"kind\": \"custom\"},\r\n  {\"kind\": \"identify\"}\n]";
        record.events_json = pretty;
        out.clear();
        evrelay::append_capture_line(out, record);
        CHECK(out.find('\n') == out.size() - 1);
        CHECK(out.find('\r') == std::string::npos);
        CHECK(out.find(R"("events":[   {"kind": "custom"},    {"kind": "identify"} ]})") !=
              std::string::npos);
    }
}
