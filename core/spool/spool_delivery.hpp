#pragma once

#include "core/input/event_reader.hpp"
#include "core/input/item_destination.hpp"
#include "core/model/delivery_listener.hpp"
#include "core/model/payload.hpp"
#include "core/spool/spool_delivery_stats.hpp"
#include "core/spool/spool_directory.hpp"
#include "core/spool/spool_progress.hpp"
#include "core/spool/spool_rebatcher.hpp"
#include "core/spool/spool_segment_index.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
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
    // Schema 1–2 and Unsummarized lines (needs_summarising, SPEC §8) are sent as their schema-4
    // output: this turns a payload of such lines (one line, or a batch) into its index, feature,
    // debug and custom events followed by their own summary, under the same payload ID — so a
    // re-sent line is de-duplicated upstream like any other. Empty: sent as they are.
    std::function<void(Payload& payload)> summarise_payload;
    // The command delivering ("flush", "serve"): the prefix of the pass's log lines.
    std::string command = "flush";
};

// Delivers a spool (SPEC §7): one pass that first turns every incoming/ file into a segment
// (SpoolIngest: its payloads get payload IDs there, so a crash later re-sends them with the same
// IDs), then sends every closed segment's lines oldest first, each line as one payload with its
// recorded payload ID, or — rebatch, and lines an earlier pass recorded in a batch — in the
// batches of a SpoolRebatcher. A line is recorded in the segment's progress file as soon as the
// upstream accepts it, and a segment is removed once every line is done. A segment with malformed
// lines is copied to bad/ (never deleted) and its other lines are delivered. The pass stops sending
// when a payload runs out of attempts (the upstream is down: what is left stays for the next pass).
//
// The caller holds the spool's delivery lock and routes the sink's outcomes for payloads with an
// origin tag to on_delivered()/on_undeliverable() (SpoolingListener does). Its log lines start
// with options.command.
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
    // One payload handed to the sink and not ended yet: a spool line, or the lines of a batch.
    struct InFlight {
        std::uint64_t segment = 0;
        std::vector<std::uint64_t> lines; // the segment's line numbers it carries
        std::size_t events = 0;           // of the whole payload
        std::size_t remaining = 0; // events whose piece has not ended (413 splits make pieces)
        std::size_t too_large = 0; // events dropped as too large (counted apart, not delivered)
        bool failed = false;
    };
    void deliver_segment(const std::filesystem::path& path, SpoolDeliveryStats& stats);
    // Sends every line of `segment` not yet done, from the index; false when it stopped before
    // the end (request_stop(), the upstream down, or the file could not be read): the segment
    // is kept.
    bool deliver_indexed(const std::filesystem::path& path, const SpoolSegmentIndex& index,
                         std::uint64_t segment_index, Segment& segment, SpoolDeliveryStats& stats);
    // The re-batcher of one segment's analytics lines: it submits what it forms.
    SpoolRebatcher rebatcher_for(std::uint64_t segment_index, Segment* segment,
                                 SpoolDeliveryStats& stats);
    // Counts a line the re-batcher dropped as a duplicate; it needs no sending any more.
    static void count_duplicate(const SpoolLineView& line, Segment* segment,
                                SpoolDeliveryStats& stats);
    // Registers a payload carrying `lines` with the sink's outcomes (origin tag) and submits it.
    void submit(Payload payload, std::uint64_t segment_index, std::vector<std::uint64_t> lines,
                Segment* segment);
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
