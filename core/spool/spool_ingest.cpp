#include "core/spool/spool_ingest.hpp"

#include "core/spool/spool_line.hpp"
#include "core/spool/spool_writer.hpp"
#include "core/util/line_reader.hpp"
#include "core/util/uuid.hpp"

#include <spdlog/spdlog.h>

#include <limits>
#include <optional>
#include <string_view>
#include <vector>

namespace evrelay {

namespace fs = std::filesystem;

namespace {

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

} // namespace

SpoolIngest::SpoolIngest(SpoolDirectory directory, PayloadSink& sink, SpoolIngestOptions options,
                         ProblemHandler on_problem)
    : m_directory(std::move(directory)), m_sink(sink), m_options(std::move(options)),
      m_on_problem(std::move(on_problem)) {}

void SpoolIngest::run(SpoolDeliveryStats& stats, const std::function<bool()>& stopping) {
    for (const fs::path& path : m_directory.incoming_files()) {
        if (stopping()) {
            return;
        }
        take_in_file(path, stats);
    }
}

void SpoolIngest::take_in_file(const fs::path& path, SpoolDeliveryStats& stats) {
    const std::string& command = m_options.command;
    auto input = util::InputStream::open(path.string());
    if (!input) {
        spdlog::error("{}: {}", command, input.error().message);
        stats.io_failed.store(true);
        return;
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
            spdlog::error("{}: {}: {}", command, path.string(), next.error().message);
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
        // A failed write was logged by the writer.
        failed = !take_in_item(item, writer ? &*writer : nullptr, stats);
    }
    stats.bytes_read.fetch_add(size_on_disk(path));
    if (m_options.dry_run) {
        return;
    }
    if (failed) {
        // The file stays in incoming/ and is read again next time.
        writer->discard();
        stats.io_failed.store(true);
        spdlog::error("{}: {} is left in incoming/ for the next run", command, path.string());
        return;
    }
    writer->close();
    stats.files_ingested.fetch_add(1);
    std::error_code error;
    if (malformed) {
        const fs::path bad = unused_bad_path(m_directory, path.filename().string());
        fs::rename(path, bad, error);
        spdlog::warn("{}: {} holds malformed data; its valid events are queued for delivery, the "
                     "file is kept as {}",
                     command, path.string(), bad.string());
    } else {
        fs::remove(path, error);
    }
    if (error) {
        spdlog::error("{}: cannot move {} out of incoming/: {}", command, path.string(),
                      error.message());
        stats.io_failed.store(true);
    }
}

Result<void> SpoolIngest::take_in_item(const InputItem& item, SpoolWriter* writer,
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
        } else if (auto appended = writer->append(record); !appended) {
            return appended;
        }
    }
    return {};
}

} // namespace evrelay
