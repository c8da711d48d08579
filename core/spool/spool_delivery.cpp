#include "core/spool/spool_delivery.hpp"

#include "core/spool/spool_ingest.hpp"
#include "core/spool/spool_line.hpp"
#include "core/util/line_reader.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

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

namespace {

constexpr std::uint64_t k_line_bits = 32;

std::uint64_t origin_tag(std::uint64_t segment, std::uint64_t line) {
    return (segment << k_line_bits) | (line & ((std::uint64_t{1} << k_line_bits) - 1));
}

std::uint64_t size_on_disk(const fs::path& path) {
    std::error_code error;
    const auto size = fs::file_size(path, error);
    return error ? 0 : size;
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
    SpoolIngestOptions ingest;
    ingest.target = m_options.target;
    ingest.max_events_per_payload = m_options.max_events_per_payload;
    ingest.dry_run = m_options.dry_run;
    ingest.command = m_options.command;
    SpoolIngest(m_directory, m_sink, std::move(ingest), m_on_problem).run(stats, [this] {
        return stopping();
    });
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
                spdlog::info("{}: {} was left open by a writer that stopped; delivering it",
                             m_options.command, path.filename().string());
                path = closed;
            }
        }
    }
    auto input = util::InputStream::open(path.string());
    if (!input) {
        spdlog::error("{}: {}", m_options.command, input.error().message);
        stats.io_failed.store(true);
        return;
    }
    std::uint64_t index_number = 0;
    Segment* segment = nullptr;
    if (!m_options.dry_run) {
        auto progress = SpoolProgress::open(path);
        if (!progress) {
            spdlog::error("{}: {}", m_options.command, progress.error().message);
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
    SpoolRebatcher rebatcher = rebatcher_for(index_number, segment, stats);
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
            spdlog::error("{}: {}: {}", m_options.command, path.string(), next.error().message);
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
                spdlog::warn("{}: {}:{}: torn last line (its writer stopped while writing; it "
                             "was never acknowledged); skipped",
                             m_options.command, path.string(), problem.line);
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
            auto recorded = rebatcher.recorded_batch(item.line);
            if (recorded || m_options.rebatch) {
                const SpoolLineView view{
                    item.line,
                    record.env_name,
                    record.sdk,
                    &record.metadata,
                    record.received,
                    record.payload_id ? std::string_view(*record.payload_id) : std::string_view(),
                    record.events_json,
                    events};
                if (rebatcher.add(view, std::move(recorded)) == SpoolRebatcher::Added::duplicate) {
                    count_duplicate(view, segment, stats);
                }
                continue;
            }
        }
        Payload payload = payload_of(record, events);
        payload.env_name = m_options.target.env_name.value_or(record.env_name);
        submit(std::move(payload), index_number, {item.line}, segment);
    }
    if (!stopped) {
        rebatcher.send_all();
    }
    if (malformed && !m_options.dry_run) {
        const fs::path bad = m_directory.bad_dir() / path.filename();
        std::error_code error;
        if (!fs::exists(bad, error)) {
            fs::copy_file(path, bad, error);
        }
        if (error) {
            spdlog::error("{}: cannot copy {} to {}: {}", m_options.command, path.string(),
                          bad.string(), error.message());
            stats.io_failed.store(true);
            stopped = true; // keep the segment: its bad lines are nowhere else
        } else {
            spdlog::warn("{}: {} holds malformed lines; a copy is kept as {}, its other "
                         "lines are delivered",
                         m_options.command, path.filename().string(), bad.string());
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
    auto file = SpoolIndexedSegment::open(path);
    if (!file) {
        spdlog::error("{}: {}", m_options.command, file.error().message);
        stats.io_failed.store(true);
        return false;
    }
    // Reads a line's events array into `out`.
    auto read_events = [&](const SpoolLineIndex& entry, std::string& out) {
        auto read = file->read_events(entry, out);
        if (!read) {
            spdlog::error("{}: {}", m_options.command, read.error().message);
            stats.io_failed.store(true);
        }
        return read;
    };
    const auto now = std::chrono::system_clock::now();
    SpoolRebatcher rebatcher = rebatcher_for(segment_index, &segment, stats);
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
            entry.kind == DataKind::analytics ? rebatcher.recorded_batch(line) : nullptr;
        if (recorded || (m_options.rebatch && entry.kind == DataKind::analytics)) {
            if (!read_events(entry, events)) {
                return false;
            }
            const SpoolLineView view{
                line,           entry.env_name,   entry.sdk, &entry.metadata,
                entry.received, entry.payload_id, events,    entry.event_count};
            if (rebatcher.add(view, std::move(recorded)) == SpoolRebatcher::Added::duplicate) {
                count_duplicate(view, &segment, stats);
            }
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
    rebatcher.send_all();
    return true;
}

SpoolRebatcher SpoolDelivery::rebatcher_for(std::uint64_t segment_index, Segment* segment,
                                            SpoolDeliveryStats& stats) {
    SpoolRebatcherOptions options;
    options.max_events_per_payload = m_options.max_events_per_payload;
    options.max_bytes_per_payload = m_options.max_bytes_per_payload;
    options.env_name = m_options.target.env_name;
    return SpoolRebatcher(
        std::move(options), segment != nullptr ? segment->progress.get() : nullptr,
        [this, segment_index, segment](Payload payload, std::vector<std::uint64_t> lines) {
            submit(std::move(payload), segment_index, std::move(lines), segment);
        },
        [this, segment, &stats](const Error& error) {
            spdlog::error("{}: {}; those lines are sent by a later run", m_options.command,
                          error.message);
            stats.io_failed.store(true);
            std::lock_guard lock(m_mutex);
            segment->keep = true; // only a segment's batches are recorded
        });
}

void SpoolDelivery::count_duplicate(const SpoolLineView& line, Segment* segment,
                                    SpoolDeliveryStats& stats) {
    stats.payloads_duplicate.fetch_add(1);
    stats.events_duplicate.fetch_add(line.events);
    if (segment != nullptr) {
        (void)segment->progress->mark_done(line.line);
    }
}

void SpoolDelivery::submit(Payload payload, std::uint64_t segment_index,
                           std::vector<std::uint64_t> lines, Segment* segment) {
    if (payload.data == DataKind::analytics && needs_summarising(payload.metadata) &&
        m_options.summarise_payload) {
        // Before the payload is registered: its event count is then the output's.
        m_options.summarise_payload(payload);
    }
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
                        spdlog::error("{}: {}", m_options.command, marked.error().message);
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
        spdlog::error("{}: {}", m_options.command, written.error().message);
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
            spdlog::error("{}: cannot remove delivered segment {}: {}", m_options.command,
                          segment.path.string(), error.message());
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
