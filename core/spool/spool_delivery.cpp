#include "core/spool/spool_delivery.hpp"

#include "core/spool/spool_writer.hpp"
#include "core/util/line_reader.hpp"
#include "core/util/uuid.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <list>
#include <unistd.h>
#include <unordered_set>

namespace evrelay {

namespace fs = std::filesystem;

struct SpoolDelivery::Segment {
    fs::path path;
    std::unique_ptr<SpoolProgress> progress;
    std::size_t outstanding = 0; // lines handed to the sink and not ended
    bool reading_done = false;
    bool keep = false;             // something of it is not delivered: it stays
    bool progress_pending = false; // listed in m_progress_pending
};

// Lines of one segment gathered into one payload (rebatch).
struct SpoolDelivery::Batch {
    Payload payload; // the lines' destination; body: "[" and their events so far
    std::vector<std::uint64_t> lines;
    std::string first_id; // the first line's own payload ID: a batch of one line keeps it
    std::shared_ptr<const SpoolBatchRecord> recorded; // one an earlier pass recorded, formed again
};

namespace {

constexpr std::uint64_t k_line_bits = 32;

// rebatch: batches being filled at once (one per destination met in a segment); when a segment
// holds more destinations than this, the oldest batch is sent to make room, which bounds the
// memory they take to this many times --batch-bytes.
constexpr std::size_t k_max_open_batches = 16;

std::uint64_t origin_tag(std::uint64_t segment, std::uint64_t line) {
    return (segment << k_line_bits) | (line & ((std::uint64_t{1} << k_line_bits) - 1));
}

std::uint64_t size_on_disk(const fs::path& path) {
    std::error_code error;
    const auto size = fs::file_size(path, error);
    return error ? 0 : size;
}

// A name in bad/ that no earlier file holds: files there are never replaced or deleted (a cron job
// dropping "events.ndjson" every hour must not overwrite the previous bad one).
fs::path unused_bad_path(const SpoolDirectory& directory, const std::string& name) {
    fs::path candidate = directory.bad_dir() / name;
    std::error_code error;
    for (int n = 1; fs::exists(candidate, error) && n < 100000; ++n) {
        candidate = directory.bad_dir() / (name + "." + std::to_string(n));
    }
    return candidate;
}

// One spool line as the payload that delivers it: its recorded payload ID (a new one for an
// analytics line that has none; diagnostic payloads carry none, SPEC §2).
Payload payload_of(const CaptureRecord& record, std::size_t event_count) {
    Payload payload;
    payload.id = record.payload_id.value_or("");
    if (payload.id.empty() && record.kind == DataKind::analytics) {
        payload.id = util::make_uuid_v4();
    }
    payload.env_name = record.env_name;
    payload.sdk = record.sdk;
    payload.data = record.kind;
    payload.metadata = record.metadata;
    payload.body = std::string(record.events_json);
    payload.event_count = event_count;
    payload.created = record.received;
    return payload;
}

} // namespace

SpoolDelivery::SpoolDelivery(SpoolDirectory directory, PayloadSink& sink,
                             SpoolDeliveryOptions options, ProblemHandler on_problem)
    : m_directory(std::move(directory)), m_sink(sink), m_options(std::move(options)),
      m_on_problem(std::move(on_problem)) {}

SpoolDelivery::~SpoolDelivery() = default;

void SpoolDelivery::request_stop(std::chrono::milliseconds grace) {
    m_stop_grace_ms.store(grace.count());
    m_stop.store(true);
    m_idle.notify_all();
}

bool SpoolDelivery::stopping() const {
    return m_stop.load() || m_upstream_failed.load();
}

std::optional<std::string> SpoolDelivery::first_rejection() const {
    std::lock_guard lock(m_mutex);
    return m_first_rejection;
}

void SpoolDelivery::run(SpoolDeliveryStats& stats) {
    m_stats = &stats;
    m_upstream_failed.store(false);
    ingest_incoming(stats);
    if (!stopping()) {
        const std::vector<fs::path> segments = m_directory.closed_segments();
        for (const auto& segment : segments) {
            stats.bytes_total.fetch_add(size_on_disk(segment));
        }
        for (const auto& segment : segments) {
            if (stopping()) {
                break;
            }
            deliver_segment(segment, stats);
        }
    }
    // Wait for the outcome of everything handed to the sink: progress records and removals
    // happen in those callbacks.
    std::unique_lock lock(m_mutex);
    std::optional<std::chrono::steady_clock::time_point> deadline;
    while (!m_segments.empty()) {
        if (m_stop.load() && !deadline) {
            deadline = std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(m_stop_grace_ms.load());
        }
        if (deadline && std::chrono::steady_clock::now() >= *deadline) {
            break;
        }
        m_idle.wait_for(lock, std::chrono::milliseconds(200));
    }
    write_progress_locked(); // the segments kept after a stop's grace
    if (m_upstream_failed.load()) {
        stats.upstream_unavailable.store(true);
    }
}

void SpoolDelivery::ingest_incoming(SpoolDeliveryStats& stats) {
    for (const fs::path& path : m_directory.incoming_files()) {
        if (stopping()) {
            return;
        }
        auto input = util::InputStream::open(path.string());
        if (!input) {
            spdlog::error("flush: {}", input.error().message);
            stats.io_failed.store(true);
            continue;
        }
        stats.bytes_total.fetch_add(size_on_disk(path));
        EventReader reader(**input, std::nullopt, m_options.max_events_per_payload);
        // One segment per incoming file, so that a failure can discard exactly its part.
        SpoolWriterOptions writer_options;
        writer_options.segment_bytes = std::numeric_limits<std::size_t>::max();
        writer_options.segment_age = std::chrono::hours(24 * 365);
        std::optional<SpoolWriter> writer;
        if (!m_options.dry_run) {
            writer.emplace(m_directory, writer_options);
        }
        bool malformed = false;
        bool failed = false;
        InputItem item;
        InputProblem problem;
        while (!failed) {
            auto next = reader.next(item, problem);
            if (!next) {
                spdlog::error("flush: {}: {}", path.string(), next.error().message);
                failed = next.error().kind == ErrorKind::io;
                if (!failed) {
                    // Corrupt or truncated gzip: what was read is kept, the file goes to bad/.
                    malformed = true;
                    stats.malformed.fetch_add(1);
                }
                break;
            }
            if (*next == EventReader::Next::end) {
                break;
            }
            if (*next == EventReader::Next::malformed) {
                stats.malformed.fetch_add(1);
                malformed = true;
                m_on_problem(problem);
                continue;
            }
            if (!take_in_item(item, writer ? &*writer : nullptr, stats)) {
                failed = true;
            }
        }
        stats.bytes_read.fetch_add(size_on_disk(path));
        if (m_options.dry_run) {
            continue;
        }
        if (failed) {
            // The file stays in incoming/ and is read again next time.
            writer->discard();
            stats.io_failed.store(true);
            spdlog::error("flush: {} is left in incoming/ for the next run", path.string());
            continue;
        }
        writer->close();
        stats.files_ingested.fetch_add(1);
        std::error_code error;
        if (malformed) {
            const fs::path bad = unused_bad_path(m_directory, path.filename().string());
            fs::rename(path, bad, error);
            spdlog::warn("flush: {} holds malformed data; its valid events are queued for "
                         "delivery, the file is kept as {}",
                         path.string(), bad.string());
        } else {
            fs::remove(path, error);
        }
        if (error) {
            spdlog::error("flush: cannot move {} out of incoming/: {}", path.string(),
                          error.message());
            stats.io_failed.store(true);
        }
    }
}

bool SpoolDelivery::take_in_item(const InputItem& item, SpoolWriter* writer,
                                 SpoolDeliveryStats& stats) {
    const ItemDestination destination = destination_of(item, m_options.target);
    CaptureRecord record;
    record.received = item.envelope ? item.envelope->received : std::chrono::system_clock::now();
    record.env_name = destination.env_name;
    record.sdk = destination.sdk;
    record.kind = item.kind;
    record.metadata = destination.metadata;
    // Each diagnostic event is a payload of its own; analytics events are one payload per item.
    std::vector<std::string_view> bodies;
    std::string joined;
    if (item.kind == DataKind::diagnostic) {
        bodies = item.events;
    } else {
        record.payload_id = item.envelope ? item.envelope->payload_id : std::nullopt;
        if (!record.payload_id) {
            record.payload_id = util::make_uuid_v4(); // given here, kept across crashes
        }
        joined = item.envelope ? std::string() : join_events(item.events);
        bodies.push_back(item.envelope ? item.envelope->events_json : std::string_view(joined));
    }
    const std::size_t events_per_body = item.kind == DataKind::diagnostic ? 1 : item.events.size();
    for (const std::string_view body : bodies) {
        record.events_json = body;
        if (writer == nullptr) { // dry run: straight to the printer
            stats.payloads_read.fetch_add(1);
            stats.events_read.fetch_add(events_per_body);
            m_sink.submit(payload_of(record, events_per_body));
        } else if (!writer->append(record)) {
            return false;
        }
    }
    return true;
}

void SpoolDelivery::deliver_segment(const fs::path& found, SpoolDeliveryStats& stats) {
    fs::path path = found;
    if (path.extension() == SpoolDirectory::k_open_suffix) {
        // Left open by a writer that stopped (its lock is gone): closed from now on.
        fs::path closed = path;
        closed.replace_extension(SpoolDirectory::k_closed_suffix);
        if (!m_options.dry_run) {
            std::error_code error;
            fs::rename(path, closed, error);
            if (!error) {
                spdlog::info("flush: {} was left open by a writer that stopped; delivering it",
                             path.filename().string());
                path = closed;
            }
        }
    }
    auto input = util::InputStream::open(path.string());
    if (!input) {
        spdlog::error("flush: {}", input.error().message);
        stats.io_failed.store(true);
        return;
    }
    std::uint64_t index_number = 0;
    Segment* segment = nullptr;
    if (!m_options.dry_run) {
        auto progress = SpoolProgress::open(path);
        if (!progress) {
            spdlog::error("flush: {}", progress.error().message);
            stats.io_failed.store(true);
            return;
        }
        auto owned = std::make_unique<Segment>();
        owned->path = path;
        owned->progress = std::move(*progress);
        segment = owned.get();
        std::lock_guard lock(m_mutex);
        index_number = m_next_segment++;
        m_segments.emplace(index_number, std::move(owned));
    }

    if (segment != nullptr && m_options.index_for &&
        path.extension() == SpoolDirectory::k_closed_suffix) {
        if (auto index = m_options.index_for(path)) {
            const bool complete = deliver_indexed(path, *index, index_number, *segment, stats);
            std::lock_guard lock(m_mutex);
            segment->reading_done = true;
            segment->keep = segment->keep || !complete;
            finish_segment_locked(index_number);
            return;
        }
    }

    const auto now = std::chrono::system_clock::now();
    EventReader reader(**input, InputFormat::capture, std::numeric_limits<std::size_t>::max());
    InputItem item;
    InputProblem problem;
    bool malformed = false;
    std::vector<std::uint64_t> malformed_lines; // recorded as done once copied to bad/
    bool stopped = false;
    std::uint64_t read_before = 0;
    std::list<Batch> batches;                 // rebatch: the ones being filled, oldest first
    std::unordered_set<std::string> seen_ids; // rebatch: payload IDs of the segment's lines
    while (true) {
        if (stopping()) {
            stopped = true;
            break;
        }
        auto next = reader.next(item, problem);
        const std::uint64_t read_now = reader.raw_bytes_read();
        stats.bytes_read.fetch_add(read_now - read_before);
        read_before = read_now;
        if (!next) {
            spdlog::error("flush: {}: {}", path.string(), next.error().message);
            stats.io_failed.store(true);
            stopped = true;
            break;
        }
        if (*next == EventReader::Next::end) {
            break;
        }
        if (*next == EventReader::Next::malformed) {
            if (problem.truncated_last_line) {
                stats.torn_lines.fetch_add(1);
                spdlog::warn("flush: {}:{}: torn last line (its writer stopped while writing; it "
                             "was never acknowledged); skipped",
                             path.string(), problem.line);
                continue;
            }
            if (segment != nullptr && segment->progress->done(problem.line)) {
                continue; // reported and copied to bad/ by an earlier pass
            }
            stats.malformed.fetch_add(1);
            malformed = true;
            m_on_problem(problem);
            malformed_lines.push_back(problem.line);
            continue;
        }
        if (segment != nullptr && segment->progress->done(item.line)) {
            continue;
        }
        const CaptureRecord& record = *item.envelope;
        const std::size_t events = item.events.size();
        stats.payloads_read.fetch_add(1);
        stats.events_read.fetch_add(events);
        if (m_options.max_age && record.received < now - *m_options.max_age) {
            stats.payloads_expired.fetch_add(1);
            stats.events_expired.fetch_add(events);
            if (segment != nullptr) {
                (void)segment->progress->mark_done(item.line);
            }
            continue;
        }
        if (record.kind == DataKind::analytics) {
            auto recorded = recorded_batch(segment, item.line);
            if (recorded || m_options.rebatch) {
                const LineView view{
                    item.line,
                    record.env_name,
                    record.sdk,
                    &record.metadata,
                    record.received,
                    record.payload_id ? std::string_view(*record.payload_id) : std::string_view(),
                    record.events_json,
                    events};
                add_to_batch(batches, seen_ids, std::move(recorded), view, index_number, segment,
                             stats);
                continue;
            }
        }
        Payload payload = payload_of(record, events);
        payload.env_name = m_options.target.env_name.value_or(record.env_name);
        submit(std::move(payload), index_number, {item.line}, segment);
    }
    if (!stopped) {
        for (Batch& batch : batches) {
            send_batch(std::move(batch), index_number, segment, stats);
        }
    }
    if (malformed && !m_options.dry_run) {
        const fs::path bad = m_directory.bad_dir() / path.filename();
        std::error_code error;
        if (!fs::exists(bad, error)) {
            fs::copy_file(path, bad, error);
        }
        if (error) {
            spdlog::error("flush: cannot copy {} to {}: {}", path.string(), bad.string(),
                          error.message());
            stats.io_failed.store(true);
            stopped = true; // keep the segment: its bad lines are nowhere else
        } else {
            spdlog::warn("flush: {} holds malformed lines; a copy is kept as {}, its other "
                         "lines are delivered",
                         path.filename().string(), bad.string());
            if (segment != nullptr) {
                for (const std::uint64_t line : malformed_lines) {
                    (void)segment->progress->mark_done(line);
                }
            }
        }
    }
    if (segment != nullptr) {
        std::lock_guard lock(m_mutex);
        segment->reading_done = true;
        segment->keep = segment->keep || stopped;
        finish_segment_locked(index_number);
    }
}

bool SpoolDelivery::deliver_indexed(const fs::path& path, const SpoolSegmentIndex& index,
                                    std::uint64_t segment_index, Segment& segment,
                                    SpoolDeliveryStats& stats) {
    util::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        spdlog::error("flush: cannot open {}: {}", path.string(), std::strerror(errno));
        stats.io_failed.store(true);
        return false;
    }
    // Reads a line's events array into `out`.
    auto read_events = [&](const SpoolLineIndex& entry, std::string& out) {
        out.resize(entry.events_length);
        std::size_t got = 0;
        while (got < out.size()) {
            const ssize_t n = ::pread(fd.get(), out.data() + got, out.size() - got,
                                      static_cast<off_t>(entry.events_offset + got));
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                spdlog::error("flush: cannot read {}: {}", path.string(),
                              n == 0 ? "file shorter than written" : std::strerror(errno));
                stats.io_failed.store(true);
                return false;
            }
            got += static_cast<std::size_t>(n);
        }
        return true;
    };
    const auto now = std::chrono::system_clock::now();
    std::list<Batch> batches;
    std::unordered_set<std::string> seen_ids;
    std::string events; // rebatch: one line's events, on their way into a batch
    for (std::size_t i = 0; i < index.size(); ++i) {
        if (stopping()) {
            return false;
        }
        const SpoolLineIndex& entry = index[i];
        const std::uint64_t line = i + 1;
        stats.bytes_read.fetch_add(entry.events_length);
        if (segment.progress->done(line)) {
            continue;
        }
        stats.payloads_read.fetch_add(1);
        stats.events_read.fetch_add(entry.event_count);
        if (m_options.max_age && entry.received < now - *m_options.max_age) {
            stats.payloads_expired.fetch_add(1);
            stats.events_expired.fetch_add(entry.event_count);
            (void)segment.progress->mark_done(line);
            continue;
        }
        auto recorded =
            entry.kind == DataKind::analytics ? recorded_batch(&segment, line) : nullptr;
        if (recorded || (m_options.rebatch && entry.kind == DataKind::analytics)) {
            if (!read_events(entry, events)) {
                return false;
            }
            const LineView view{line,           entry.env_name,   entry.sdk, &entry.metadata,
                                entry.received, entry.payload_id, events,    entry.event_count};
            add_to_batch(batches, seen_ids, std::move(recorded), view, segment_index, &segment,
                         stats);
            continue;
        }
        Payload payload;
        if (!read_events(entry, payload.body)) {
            return false;
        }
        payload.id = entry.payload_id;
        payload.env_name = m_options.target.env_name.value_or(entry.env_name);
        payload.sdk = entry.sdk;
        payload.data = entry.kind;
        payload.metadata = entry.metadata;
        payload.event_count = entry.event_count;
        payload.created = entry.received;
        submit(std::move(payload), segment_index, {line}, &segment);
    }
    for (Batch& batch : batches) {
        send_batch(std::move(batch), segment_index, &segment, stats);
    }
    return true;
}

void SpoolDelivery::add_to_batch(std::list<Batch>& batches,
                                 std::unordered_set<std::string>& seen_ids,
                                 std::shared_ptr<const SpoolBatchRecord> recorded,
                                 const LineView& line, std::uint64_t segment_index,
                                 Segment* segment, SpoolDeliveryStats& stats) {
    const std::string_view env_name =
        m_options.target.env_name ? std::string_view(*m_options.target.env_name) : line.env_name;
    const std::size_t events = line.events;
    const bool seen_before = !line.payload_id.empty() && !seen_ids.emplace(line.payload_id).second;
    if (!recorded && seen_before) {
        // The same payload ID twice: an SDK sent one post again (a lost 202, a 503). Sent under
        // its own ID the upstream would drop it; in a batch it would count twice.
        stats.payloads_duplicate.fetch_add(1);
        stats.events_duplicate.fetch_add(events);
        if (segment != nullptr) {
            (void)segment->progress->mark_done(line.line);
        }
        return;
    }
    auto batch = batches.end();
    if (recorded) {
        // Sent by an earlier pass that stopped before it ended: formed again, under its ID.
        batch = std::find_if(batches.begin(), batches.end(),
                             [&](const Batch& open) { return open.recorded == recorded; });
    } else {
        batch = std::find_if(batches.begin(), batches.end(), [&](const Batch& open) {
            return !open.recorded && open.payload.env_name == env_name &&
                   open.payload.sdk == line.sdk && open.payload.metadata == *line.metadata;
        });
        if (batch != batches.end() &&
            (batch->payload.event_count + events > m_options.max_events_per_payload ||
             batch->payload.body.size() + line.events_json.size() >
                 m_options.max_bytes_per_payload)) {
            send_batch(std::move(*batch), segment_index, segment, stats);
            batches.erase(batch);
            batch = batches.end();
        }
    }
    // The array's elements, without its brackets (validated JSON: no whitespace around it).
    const std::string_view inner = line.events_json.substr(1, line.events_json.size() - 2);
    if (batch == batches.end()) {
        if (batches.size() >= k_max_open_batches) {
            send_batch(std::move(batches.front()), segment_index, segment, stats);
            batches.pop_front();
        }
        batch = batches.emplace(batches.end());
        Payload& payload = batch->payload;
        payload.env_name = std::string(env_name);
        payload.sdk = line.sdk;
        payload.data = DataKind::analytics;
        payload.metadata = *line.metadata;
        payload.created = line.received;
        // Room for as many lines like this one as the limits allow, so that the body is not
        // copied again as it grows.
        const std::size_t lines_that_fit =
            m_options.max_events_per_payload / std::max<std::size_t>(events, 1) + 1;
        payload.body.reserve(
            std::min(m_options.max_bytes_per_payload, (inner.size() + 1) * lines_that_fit) + 2);
        payload.body.push_back('[');
        batch->first_id = std::string(line.payload_id);
        batch->recorded = std::move(recorded);
    } else {
        batch->payload.body.push_back(',');
        batch->payload.created = std::min(batch->payload.created, line.received);
    }
    batch->payload.body.append(inner);
    batch->payload.event_count += events;
    batch->lines.push_back(line.line);
    const bool complete = batch->recorded
                              ? line.line == batch->recorded->lines.back()
                              : batch->payload.event_count >= m_options.max_events_per_payload;
    if (complete) {
        send_batch(std::move(*batch), segment_index, segment, stats);
        batches.erase(batch);
    }
}

void SpoolDelivery::send_batch(Batch batch, std::uint64_t segment_index, Segment* segment,
                               SpoolDeliveryStats& stats) {
    if (batch.lines.empty()) {
        return;
    }
    Payload payload = std::move(batch.payload);
    payload.body.push_back(']');
    if (batch.recorded) {
        payload.id = batch.recorded->payload_id;
    } else if (batch.lines.size() == 1 && !batch.first_id.empty()) {
        payload.id = batch.first_id;
    } else {
        payload.id = util::make_uuid_v4();
        if (segment != nullptr && batch.lines.size() > 1) {
            // On file before the payload leaves: a crash re-sends these lines under this ID.
            auto recorded =
                segment->progress->record_batch(SpoolBatchRecord{payload.id, batch.lines});
            if (!recorded) {
                spdlog::error("flush: {}; those lines are sent by a later run",
                              recorded.error().message);
                stats.io_failed.store(true);
                std::lock_guard lock(m_mutex);
                segment->keep = true;
                return;
            }
        }
    }
    submit(std::move(payload), segment_index, std::move(batch.lines), segment);
}

std::shared_ptr<const SpoolBatchRecord> SpoolDelivery::recorded_batch(const Segment* segment,
                                                                      std::uint64_t line) {
    return segment != nullptr ? segment->progress->batch_of(line) : nullptr;
}

void SpoolDelivery::submit(Payload payload, std::uint64_t segment_index,
                           std::vector<std::uint64_t> lines, Segment* segment) {
    if (m_stats != nullptr) {
        m_stats->payloads_sent.fetch_add(1);
    }
    if (segment != nullptr) {
        payload.origin = origin_tag(segment_index, lines.front());
        std::lock_guard lock(m_mutex);
        m_in_flight[payload.origin] = InFlight{
            segment_index, std::move(lines), payload.event_count, payload.event_count, 0, false};
        ++segment->outstanding;
    }
    m_sink.submit(std::move(payload));
}

void SpoolDelivery::on_delivered(const Payload& payload) {
    piece_ended(payload, true, false);
}

void SpoolDelivery::on_undeliverable(const Payload& payload, Undeliverable reason,
                                     long last_status) {
    if (reason == Undeliverable::retries_exhausted) {
        m_upstream_failed.store(true);
    }
    if (is_credential_problem(reason)) {
        std::lock_guard lock(m_mutex);
        if (!m_first_rejection) {
            m_first_rejection = describe_credential_problem(payload, reason, last_status);
        }
    }
    if (reason == Undeliverable::too_large) {
        // A single event the upstream will never take: dropped and reported (SPEC §2), so the
        // line can still complete.
        if (m_stats != nullptr) {
            m_stats->events_too_large.fetch_add(payload.event_count);
        }
        piece_ended(payload, true, true);
        return;
    }
    piece_ended(payload, false, false);
}

void SpoolDelivery::piece_ended(const Payload& payload, bool delivered, bool too_large) {
    std::lock_guard lock(m_mutex);
    auto found = m_in_flight.find(payload.origin);
    if (found == m_in_flight.end()) {
        return;
    }
    InFlight& line = found->second;
    line.failed = line.failed || !delivered;
    if (too_large) {
        line.too_large += payload.event_count;
    }
    line.remaining -= std::min(line.remaining, payload.event_count);
    if (line.remaining != 0) {
        return;
    }
    auto segment = m_segments.find(line.segment);
    if (segment != m_segments.end()) {
        Segment& s = *segment->second;
        if (!line.failed) {
            if (m_stats != nullptr) {
                m_stats->payloads_delivered.fetch_add(line.lines.size());
                m_stats->events_delivered.fetch_add(line.events - line.too_large);
            }
            if (m_options.batch_progress) {
                for (const std::uint64_t number : line.lines) {
                    s.progress->mark_done_later(number);
                }
                if (!s.progress_pending) {
                    s.progress_pending = true;
                    m_progress_pending.push_back(line.segment);
                }
            } else {
                for (const std::uint64_t number : line.lines) {
                    if (auto marked = s.progress->mark_done(number); !marked) {
                        spdlog::error("flush: {}", marked.error().message);
                        s.keep = true;
                        break;
                    }
                }
            }
        } else {
            if (m_stats != nullptr) {
                m_stats->payloads_kept.fetch_add(line.lines.size());
                m_stats->events_kept.fetch_add(line.events);
            }
            s.keep = true;
        }
        --s.outstanding;
    }
    const std::uint64_t index = line.segment;
    m_in_flight.erase(found);
    finish_segment_locked(index);
}

void SpoolDelivery::write_progress() {
    std::lock_guard lock(m_mutex);
    write_progress_locked();
}

void SpoolDelivery::write_progress_locked() {
    for (const std::uint64_t index : m_progress_pending) {
        if (auto found = m_segments.find(index); found != m_segments.end()) {
            write_segment_progress_locked(*found->second);
        }
    }
    m_progress_pending.clear();
}

void SpoolDelivery::write_segment_progress_locked(Segment& segment) {
    segment.progress_pending = false;
    if (auto written = segment.progress->write_pending(); !written) {
        spdlog::error("flush: {}", written.error().message);
        segment.keep = true; // its lines are sent again next time, under the same IDs
    }
}

void SpoolDelivery::finish_segment_locked(std::uint64_t index) {
    auto found = m_segments.find(index);
    if (found == m_segments.end()) {
        return;
    }
    Segment& segment = *found->second;
    if (!segment.reading_done || segment.outstanding != 0) {
        return;
    }
    if (segment.progress_pending) {
        write_segment_progress_locked(segment); // what is kept must have its records
    }
    if (!segment.keep) {
        std::error_code error;
        fs::remove(segment.path, error);
        if (error) {
            spdlog::error("flush: cannot remove delivered segment {}: {}", segment.path.string(),
                          error.message());
        } else {
            segment.progress->remove();
            if (m_stats != nullptr) {
                m_stats->segments_removed.fetch_add(1);
            }
        }
    }
    m_segments.erase(found);
    m_idle.notify_all();
}

} // namespace evrelay
