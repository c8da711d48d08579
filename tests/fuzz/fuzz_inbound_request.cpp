// Whole HTTP requests (method, target, headers, a gzip, chunked or plain body) on any bytes,
// parsed as serve parses them — Beast's request parser with the server's body type and limits
// (core/server/request_body.hpp) — and handled by the real InboundHandler, in front of a real
// Dispatcher whose payloads a checking sink receives, with a capture file:
//
//   byte 0   bit 0 the peer is on loopback; bit 1 --offline; bit 2 --no-forward
//   then     the bytes of one connection: requests one after another (keep-alive)
//
// Every answer is an HTTP status whose header values are field values; every payload published
// is a valid body of the events it counts, whose upstream headers are field values; every post
// accepted is captured as a line that reads back (replay, and the spool, read the same lines) with
// the events that were published.

#include "tests/fuzz/fuzz_support.hpp"
#include "tests/fuzz/upstream_headers.hpp"

#include "core/inbound/capture_writer.hpp"
#include "core/inbound/inbound_handler.hpp"
#include "core/input/event_reader.hpp"
#include "core/json/json_validator.hpp"
#include "core/pipeline/dispatcher.hpp"
#include "core/server/request_body.hpp"
#include "core/util/line_reader.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fcntl.h>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

using namespace evrelay;

namespace {

constexpr std::size_t k_max_body_bytes = 64u << 10;
constexpr std::size_t k_max_header_bytes = 16u << 10;
constexpr int k_max_requests = 16;

// Checks each payload, counts its events.
class CheckingSink final : public PayloadSink {
  public:
    std::size_t events = 0;

    void submit(Payload payload) override {
        fuzz::check_upstream_headers(payload);
        const std::string buffer = fuzz::with_padding(payload.body);
        FUZZ_CHECK(m_validator.validate(buffer.data(),
                                        std::string_view(buffer.data(), payload.body.size())),
                   "a payload body is not valid JSON: " + payload.body.substr(0, 300));
        if (payload.data == DataKind::diagnostic) {
            FUZZ_CHECK(m_validator.root_type() == JsonType::object && payload.event_count == 1,
                       "a diagnostic payload is not one object");
        } else {
            FUZZ_CHECK(m_validator.root_type() == JsonType::array &&
                           m_validator.parts().size() == payload.event_count,
                       "an analytics payload does not hold the events it counts");
        }
        events += payload.event_count;
    }

  private:
    JsonValidator m_validator;
};

Environment production() {
    Environment env;
    env.name = "production";
    env.sdk_key = "sdk-fixture-key-0123";
    env.mobile_key = "mob-fixture-key-4567";
    env.env_id = "fixture-client-side-id";
    env.allowed_origins = {"https://app.example"};
    return env;
}

// The capture file: one per process, emptied before each input and read after it.
struct CaptureFile {
    CaptureFile() {
        const char* base = std::getenv("TMPDIR");
        std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                              "/evrelay-fuzz-capture-XXXXXX";
        fd = ::mkstemp(pattern.data());
        FUZZ_CHECK(fd >= 0, "mkstemp " + pattern);
        auto opened = CaptureWriter::open(pattern);
        FUZZ_CHECK(opened.has_value(), "cannot open the capture file");
        writer = std::move(*opened);
        ::unlink(pattern.c_str()); // both descriptors stay usable
    }
    std::string take() {
        std::string content;
        char block[65536];
        for (off_t at = 0;;) {
            const ssize_t n = ::pread(fd, block, sizeof block, at);
            if (n <= 0) {
                break;
            }
            content.append(block, static_cast<std::size_t>(n));
            at += n;
        }
        FUZZ_CHECK(::ftruncate(fd, 0) == 0, "cannot empty the capture file");
        return content;
    }

    int fd = -1;
    std::unique_ptr<CaptureWriter> writer;
};

// The events of the capture lines written for the posts; every line must read back (a post of
// an empty array reads back as nothing, on purpose).
std::size_t captured_events(std::string lines) {
    const std::string shown = lines.substr(0, 400);
    const auto input = util::InputStream::from_string(std::move(lines), "capture");
    EventReader reader(*input, InputFormat::capture);
    std::size_t events = 0;
    while (true) {
        InputItem item;
        InputProblem problem;
        const Result<EventReader::Next> next = reader.next(item, problem);
        FUZZ_CHECK(next.has_value(), "the capture cannot be read");
        if (*next == EventReader::Next::end) {
            break;
        }
        FUZZ_CHECK(*next == EventReader::Next::item,
                   "the capture line of an accepted post does not read back (" + problem.message +
                       "): " + shown);
        events += item.events.size();
    }
    return events;
}

void check_response(const HttpResponse& response) {
    FUZZ_CHECK(!response.deferred, "an answer is deferred without a spool");
    FUZZ_CHECK(response.status >= 200 && response.status <= 599, "not an HTTP status");
    for (const auto& [name, value] : response.headers) {
        FUZZ_CHECK(fuzz::is_field_value(value), "answer header " + name + " is no field value");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const bool quiet = (fuzz::quiet_logs(), true);
    (void)quiet;
    static CaptureFile capture;
    if (size == 0) {
        return 0;
    }
    const std::uint8_t control = data[0];
    InboundHandlerOptions options;
    options.max_body_bytes = k_max_body_bytes;
    options.offline = (control & 2) != 0;
    options.no_forward = (control & 4) != 0;

    EnvironmentTable environments({production()});
    CheckingSink sink;
    MemoryBudget budget(std::size_t{1} << 30);
    CounterRegistry counters;
    Dispatcher dispatcher(PublisherOptions{}, sink, budget, counters);
    InboundHandler handler(environments, dispatcher, counters, capture.writer.get(), options);

    boost::beast::flat_buffer buffer;
    const std::string_view bytes = fuzz::as_text(data + 1, size - 1);
    if (!bytes.empty()) { // an empty buffer's prepare(0) has no memory: memcpy needs some
        auto room = buffer.prepare(bytes.size());
        std::memcpy(room.data(), bytes.data(), bytes.size());
        buffer.commit(bytes.size());
    }
    std::optional<server_detail::RequestParser> parser;
    for (int n = 0; n < k_max_requests && buffer.size() > 0; ++n) {
        server_detail::start_parser(parser, k_max_header_bytes, k_max_body_bytes);
        const boost::beast::error_code error =
            server_detail::parse_buffered(*parser, buffer, false);
        if (error || !parser->is_done()) {
            break; // answered 400/413/431, or the server would wait for more
        }
        const bool keep_alive = parser->get().keep_alive();
        HttpRequest request = server_detail::take_request(parser->get(), (control & 1) != 0);
        check_response(handler.handle(std::move(request)));
        if (!keep_alive) {
            break;
        }
    }
    dispatcher.flush_all();
    const std::size_t captured = captured_events(capture.take());
    if (!options.offline && !options.no_forward) {
        FUZZ_CHECK(sink.events == captured, "published " + std::to_string(sink.events) +
                                                " events, captured " + std::to_string(captured));
    }
    return 0;
}
