#include "core/input/event_reader.hpp"

#include "core/input/array_reader.hpp"
#include "core/input/capture_reader.hpp"
#include "core/input/ndjson_reader.hpp"

#include <algorithm>
#include <cstring>

namespace evrelay {

namespace {

// Enough of the input to see its first line in all but pathological cases.
constexpr std::size_t k_detect_bytes = 64 * 1024;

// Serves bytes already read for format detection, then the rest of the stream, so that the
// line reader and the array scanner see the whole input.
class ReplayedHeadStream final : public util::InputStream {
  public:
    ReplayedHeadStream(util::InputStream& rest, std::string head)
        : util::InputStream(rest.name()), m_rest(rest), m_head(std::move(head)) {}

    Result<std::size_t> read(char* out, std::size_t max) override {
        if (m_head_pos < m_head.size()) {
            const std::size_t n = std::min(max, m_head.size() - m_head_pos);
            std::memcpy(out, m_head.data() + m_head_pos, n);
            m_head_pos += n;
            if (m_head_pos == m_head.size()) {
                m_head = std::string(); // release the memory
                m_head_pos = 0;
            }
            return n;
        }
        return m_rest.read(out, max);
    }
    std::uint64_t raw_bytes_read() const override { return m_rest.raw_bytes_read(); }
    std::uint64_t raw_size() const override { return m_rest.raw_size(); }

  private:
    util::InputStream& m_rest;
    std::string m_head;
    std::size_t m_head_pos = 0;
};

} // namespace

struct EventReader::Impl {
    Impl(util::InputStream& input, std::optional<InputFormat> forced, std::size_t max_events)
        : raw_input(input), forced_format(forced),
          max_events_per_item(std::max<std::size_t>(max_events, 1)) {}

    util::InputStream& raw_input;
    std::optional<InputFormat> forced_format;
    std::size_t max_events_per_item;
    std::optional<InputFormat> format;
    std::unique_ptr<ReplayedHeadStream> stream;
    std::unique_ptr<input::FormatReader> reader; // reads `stream`; set once started

    // Reads the head of the input, detects the format (unless forced) and sets up its reader.
    Result<void> start() {
        std::string head;
        head.resize(k_detect_bytes);
        std::size_t have = 0;
        // Read until the first line with content is complete, the detection window is full or
        // the input ends.
        while (have < k_detect_bytes) {
            Result<std::size_t> n = raw_input.read(head.data() + have, k_detect_bytes - have);
            if (!n) {
                return tl::unexpected(n.error());
            }
            if (*n == 0) {
                break;
            }
            have += *n;
            const std::string_view seen(head.data(), have);
            const std::size_t content = seen.find_first_not_of(" \t\r\n");
            if (content != std::string_view::npos &&
                seen.find('\n', content) != std::string_view::npos) {
                break;
            }
        }
        head.resize(have);
        format = forced_format ? forced_format : detect_input_format(head);
        if (!format) {
            // Nothing recognisable: read it as lines, so that each bad line is reported.
            format = InputFormat::ndjson;
        }
        stream = std::make_unique<ReplayedHeadStream>(raw_input, std::move(head));
        switch (*format) {
        case InputFormat::capture:
            reader = std::make_unique<input::CaptureReader>(*stream);
            break;
        case InputFormat::ndjson:
            reader = std::make_unique<input::NdjsonReader>(*stream, max_events_per_item);
            break;
        case InputFormat::array:
            reader = std::make_unique<input::ArrayReader>(*stream, max_events_per_item);
            break;
        }
        return {};
    }
};

EventReader::EventReader(util::InputStream& input, std::optional<InputFormat> forced_format,
                         std::size_t max_events_per_item)
    : m_impl(std::make_unique<Impl>(input, forced_format, max_events_per_item)) {}

EventReader::~EventReader() = default;

Result<EventReader::Next> EventReader::next(InputItem& item, InputProblem& problem) {
    Impl& impl = *m_impl;
    item.events.clear();
    item.envelope.reset();
    item.kind = DataKind::analytics;
    item.line = 0;
    if (!impl.reader) {
        if (Result<void> started = impl.start(); !started) {
            return tl::unexpected(started.error());
        }
    }
    return impl.reader->next(item, problem);
}

std::optional<InputFormat> EventReader::format() const {
    return m_impl->format;
}

std::uint64_t EventReader::raw_bytes_read() const {
    return m_impl->raw_input.raw_bytes_read();
}

std::uint64_t EventReader::raw_size() const {
    return m_impl->raw_input.raw_size();
}

} // namespace evrelay
