#pragma once

#include "core/model/payload.hpp"
#include "core/spool/spool_line.hpp"
#include "core/spool/spool_progress.hpp"
#include "core/util/error.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

namespace evrelay {

struct SpoolRebatcherOptions {
    std::size_t max_events_per_payload = 1000;
    std::size_t max_bytes_per_payload = 4u << 20;
    // The target environment (the flags chose one): it replaces the lines' own.
    std::optional<std::string> env_name;
};

// Gathers the analytics lines of one segment into payloads (flush --payload-ids new, a durable
// serve's drain): lines that share a destination (environment, SDK kind, metadata) go out
// together as payloads of at most max_events_per_payload events and max_bytes_per_payload bytes,
// each under a new payload ID that is recorded in the segment's progress file before it is sent
// (SpoolBatchRecord): a crash re-sends those lines as that same payload. A batch of one line
// keeps the line's own ID.
//
// A line an earlier pass recorded in a batch goes out as that batch again, under its ID, whether
// or not this pass re-batches (the delivery routes such lines here). A line whose payload ID an
// earlier line of the segment had (an SDK's retry of one post) is dropped: the upstream would
// drop it when sent under its own ID, and in a batch it would count twice.
//
// One per segment, on the delivery's reading thread; batches still open at the segment's end
// go out with send_all().
class SpoolRebatcher {
  public:
    // Hands a payload and the segment's line numbers it carries on to be sent.
    using Send = std::function<void(Payload payload, std::vector<std::uint64_t> lines)>;
    // A batch could not be recorded: its lines were not sent (a later pass sends them).
    using Unrecorded = std::function<void(const Error& error)>;

    // `progress` is the segment's (nullptr in a dry run: nothing is recorded, nothing found).
    SpoolRebatcher(SpoolRebatcherOptions options, SpoolProgress* progress, Send send,
                   Unrecorded unrecorded);

    // The batch an earlier pass recorded `line` in, if any.
    std::shared_ptr<const SpoolBatchRecord> recorded_batch(std::uint64_t line) const;

    enum class Added {
        batched,  // in a batch (perhaps already sent)
        duplicate // dropped: an earlier line of the segment had its payload ID
    };
    // Adds a line to the batch an earlier pass `recorded` it in, or else to the batch of its
    // destination, sending a batch once it is full (and the oldest one when too many are open).
    [[nodiscard]] Added add(const SpoolLineView& line,
                            std::shared_ptr<const SpoolBatchRecord> recorded);
    // Sends every batch still open (the segment was read to its end).
    void send_all();

  private:
    // Lines of the segment gathered into one payload.
    struct Batch {
        Payload payload; // the lines' destination; body: "[" and their events so far
        std::vector<std::uint64_t> lines;
        std::string first_id; // the first line's own payload ID: a batch of one line keeps it
        std::shared_ptr<const SpoolBatchRecord> recorded; // an earlier pass's, formed again
    };

    // Gives `batch` its payload ID (recording a new one first) and hands it on.
    void send(Batch batch);

    SpoolRebatcherOptions m_options;
    SpoolProgress* m_progress;
    Send m_send;
    Unrecorded m_unrecorded;
    std::list<Batch> m_batches;                 // the ones being filled, oldest first
    std::unordered_set<std::string> m_seen_ids; // payload IDs of the segment's lines so far
};

} // namespace evrelay
