#pragma once

#include "core/input/event_reader.hpp"
#include "core/model/payload.hpp"
#include "core/input/item_destination.hpp"
#include "core/model/delivery_listener.hpp"
#include "core/spool/spool_directory.hpp"
#include "core/spool/spool_progress.hpp"
#include "core/spool/spool_segment_index.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace evrelay {

struct SpoolDeliveryOptions {
    // Where events of incoming/ files without envelopes go, and — when target.env_name is set
    // (the flags chose one environment) — the environment of every payload.
    ReplayTarget target;
    std::optional<std::chrono::milliseconds> max_age; // older payloads are dropped and reported
    std::size_t max_events_per_payload = 1000;        // incoming/ array and NDJSON files
    // flush --payload-ids new: the analytics lines of one segment that share a destination
    // (environment, SDK kind, metadata) are sent together as payloads of at most
    // max_events_per_payload events and max_bytes_per_payload bytes, each under a new payload ID
    // that is recorded before it is sent (SpoolBatchRecord): a crash re-sends those lines as that
    // same payload. A line alone keeps its own ID. Off: every line is its own payload under its
    // recorded ID. Within a segment, a line whose payload ID an earlier line had (an SDK's
    // retry of one post) is dropped, as the upstream would drop it when sent under its own ID.
    bool rebatch = false;
    std::size_t max_bytes_per_payload = 4u << 20;
    bool dry_run = false; // hand payloads to the sink only: no progress, nothing removed
    // Progress records of delivered lines are written by write_progress(), which the sink's
    // listener calls after each run of outcomes (DeliveryListener::on_outcomes_reported: the
    // Sender does so before it starts another request), instead of one write per line. Either
    // way a crash re-sends at most the payloads that were in flight.
    bool batch_progress = false;
    // The in-memory index of a segment this process wrote (SpoolWriter::index_of), if any:
    // such a segment is delivered from it without parsing its lines again.
    std::function<std::shared_ptr<const SpoolSegmentIndex>(const std::filesystem::path&)> index_for;
};

// What one pass did. Events and payloads are counted per spool line (a line is one payload).
struct SpoolDeliveryStats {
    std::atomic<std::uint64_t> payloads_read{0};
    std::atomic<std::uint64_t> events_read{0};
    std::atomic<std::uint64_t> payloads_delivered{0};
    std::atomic<std::uint64_t> events_delivered{0};
    std::atomic<std::uint64_t> payloads_kept{0}; // failed this time; still in the spool
    std::atomic<std::uint64_t> events_kept{0};
    std::atomic<std::uint64_t> payloads_expired{0}; // --max-age
    std::atomic<std::uint64_t> events_expired{0};
    // rebatch: lines dropped because an earlier line of their segment had the same payload ID
    std::atomic<std::uint64_t> payloads_duplicate{0};
    std::atomic<std::uint64_t> events_duplicate{0};
    std::atomic<std::uint64_t> events_too_large{0}; // single events the upstream refused (413)
    std::atomic<std::uint64_t> malformed{0};        // lines (or elements) moved aside to bad/
    std::atomic<std::uint64_t> torn_lines{0};       // unacknowledged last lines skipped
    std::atomic<std::uint64_t> segments_removed{0};
    std::atomic<std::uint64_t> payloads_sent{0};  // handed to the sink (a batch of lines is one)
    std::atomic<std::uint64_t> files_ingested{0}; // incoming/ files turned into segments
    std::atomic<std::uint64_t> bytes_total{0};    // of the segments and files of the pass
    std::atomic<std::uint64_t> bytes_read{0};
    std::atomic<bool> upstream_unavailable{false}; // a payload ran out of attempts
    std::atomic<bool> io_failed{false};            // a spool file could not be read or written
};

// Delivers a spool (SPEC §7): one pass that first turns every incoming/ file into a segment
// (its payloads get payload IDs there, so a crash later re-sends them with the same IDs), then
// sends every closed segment's lines oldest first, each line as one payload with its recorded
// payload ID. A line is recorded in the segment's progress file as soon as the upstream accepts
// it, and a segment is removed once every line is done. A segment with malformed lines is copied
// to bad/ (never deleted) and its other lines are delivered. The pass stops sending when a
// payload runs out of attempts (the upstream is down: what is left stays for the next pass).
//
// The caller holds the spool's delivery lock and routes the sink's outcomes for payloads with an
// origin tag to on_delivered()/on_undeliverable() (SpoolingListener does).
class SpoolWriter;

class SpoolDelivery {
  public:
    using ProblemHandler = std::function<void(const InputProblem&)>;

    SpoolDelivery(SpoolDirectory directory, PayloadSink& sink, SpoolDeliveryOptions options,
                  ProblemHandler on_problem);
    ~SpoolDelivery();

    // Returns when every payload it handed to the sink has ended (or, after request_stop(),
    // once its grace has passed: what is still in flight is then left to the sink's stop()).
    // `stats` must outlive the SpoolDelivery (late outcomes are counted in it).
    void run(SpoolDeliveryStats& stats);
    // Stops reading after the line in hand and lets run() wait at most `grace` more for the
    // payloads in flight; thread-safe (signal handlers, serve's shutdown). Later passes do
    // nothing.
    void request_stop(std::chrono::milliseconds grace);

    void on_delivered(const Payload& payload);
    void on_undeliverable(const Payload& payload, Undeliverable reason, long last_status);
    // Writes the progress records held back by batch_progress (thread-safe).
    void write_progress();

    // The first credential problem met (401/403, no credential for an environment): flush exits
    // 78 with it.
    std::optional<std::string> first_rejection() const;

  private:
    struct Segment;
    struct Batch;
    // One payload handed to the sink and not ended yet: a spool line, or the lines of a batch.
    struct InFlight {
        std::uint64_t segment = 0;
        std::vector<std::uint64_t> lines; // the segment's line numbers it carries
        std::size_t events = 0;           // of the whole payload
        std::size_t remaining = 0; // events whose piece has not ended (413 splits make pieces)
        std::size_t too_large = 0; // events dropped as too large (counted apart, not delivered)
        bool failed = false;
    };
    // A valid analytics line on its way into a batch, as views: of a parsed capture line, or of
    // a writer's index entry and the events read for it.
    struct LineView {
        std::uint64_t line = 0;
        std::string_view env_name; // as recorded (the target environment may replace it)
        SdkKind sdk = SdkKind::server;
        const PayloadMetadata* metadata = nullptr;
        std::chrono::system_clock::time_point received{};
        std::string_view payload_id; // empty: none recorded
        std::string_view events_json;
        std::size_t events = 0;
    };

    void ingest_incoming(SpoolDeliveryStats& stats);
    // Writes one item of an incoming/ file to `writer` as spool lines (with a dry run, no
    // writer: hands them to the sink). False when the writer failed.
    bool take_in_item(const InputItem& item, SpoolWriter* writer, SpoolDeliveryStats& stats);
    void deliver_segment(const std::filesystem::path& path, SpoolDeliveryStats& stats);
    // Sends every line of `segment` not yet done, from the index; false when the file cannot be
    // read (the segment is kept).
    bool deliver_indexed(const std::filesystem::path& path, const SpoolSegmentIndex& index,
                         std::uint64_t segment_index, Segment& segment, SpoolDeliveryStats& stats);
    // Registers a payload carrying `lines` with the sink's outcomes (origin tag) and submits it.
    void submit(Payload payload, std::uint64_t segment_index, std::vector<std::uint64_t> lines,
                Segment* segment);
    // The batch an earlier pass recorded `line` in, if any (nothing is recorded in a dry run).
    static std::shared_ptr<const SpoolBatchRecord> recorded_batch(const Segment* segment,
                                                                  std::uint64_t line);
    // Adds a line to the batch an earlier pass `recorded` it in (with or without rebatch: such
    // lines always go out as that batch, under its ID), or — rebatch — to the batch of its
    // destination among `batches`, sending a batch once it is full. With rebatch, a line whose
    // payload ID an earlier line of the segment had is dropped as a duplicate.
    void add_to_batch(std::list<Batch>& batches, std::unordered_set<std::string>& seen_ids,
                      std::shared_ptr<const SpoolBatchRecord> recorded, const LineView& line,
                      std::uint64_t segment_index, Segment* segment, SpoolDeliveryStats& stats);
    // Sends what `batch` holds (a batch of several lines is recorded first).
    void send_batch(Batch batch, std::uint64_t segment_index, Segment* segment,
                    SpoolDeliveryStats& stats);
    // A payload (or one piece of a split one) ended; `delivered` also for a dropped too-large
    // event (`too_large`), which completes its line without counting as delivered.
    void piece_ended(const Payload& payload, bool delivered, bool too_large);
    void finish_segment_locked(std::uint64_t index);
    void write_progress_locked(); // m_mutex held
    void write_segment_progress_locked(Segment& segment);
    bool stopping() const;

    SpoolDirectory m_directory;
    PayloadSink& m_sink;
    SpoolDeliveryOptions m_options;
    ProblemHandler m_on_problem;
    SpoolDeliveryStats* m_stats = nullptr;

    mutable std::mutex m_mutex;
    std::condition_variable m_idle;
    std::map<std::uint64_t, std::unique_ptr<Segment>> m_segments;
    std::unordered_map<std::uint64_t, InFlight> m_in_flight; // by origin tag
    std::vector<std::uint64_t> m_progress_pending;           // segments with records held back
    std::uint64_t m_next_segment = 1;
    std::atomic<bool> m_stop{false};
    std::atomic<std::chrono::milliseconds::rep> m_stop_grace_ms{0};
    std::atomic<bool> m_upstream_failed{false};
    std::optional<std::string> m_first_rejection;
};

} // namespace evrelay
