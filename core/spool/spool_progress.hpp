#pragma once

#include "core/util/error.hpp"
#include "core/util/fd.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace evrelay {

// Lines of a segment sent together as one payload under `payload_id` (flush --payload-ids new):
// recorded before the payload is sent. `lines` ascend.
struct SpoolBatchRecord {
    std::string payload_id;
    std::vector<std::uint64_t> lines;
};

// The progress record of one spool segment (SPEC §7): the numbers of its lines that need no
// sending any more (delivered, expired by --max-age, or malformed and copied to bad/), one
// decimal number per line in "<segment>.done". Each record is one small O_APPEND write made as
// soon as the upstream accepts the payload, so a crash re-sends at most the payloads that were in
// flight. A torn last record (a crash mid-write) is ignored when read. Thread-safe.
//
// A batch record, "b PAYLOAD-ID LINE LINE ...", is written before those lines leave as one
// payload: after a crash the ones not yet done are sent again as that payload, under that ID,
// so the upstream de-duplicates them as it does a re-sent spool line.
class SpoolProgress {
  public:
    // Reads the existing records of `segment`'s progress file and opens it for appending.
    static Result<std::unique_ptr<SpoolProgress>> open(const std::filesystem::path& segment);

    bool done(std::uint64_t line) const;
    std::size_t done_count() const;
    // Records `line` as done. A failed write is returned (the line is then sent again next time,
    // which the payload ID makes harmless upstream).
    Result<void> mark_done(std::uint64_t line);
    // Records `line` as done in memory now and in the file at the next write_pending(), so that
    // the lines finished together cost one write.
    void mark_done_later(std::uint64_t line);
    // Appends the records of mark_done_later() not yet written, in one write.
    Result<void> write_pending();
    bool has_pending() const;
    // Writes a batch record at once (it must be on file before the batch is sent).
    Result<void> record_batch(const SpoolBatchRecord& batch);
    // The batch recorded (by an earlier pass) that holds `line`, if any.
    std::shared_ptr<const SpoolBatchRecord> batch_of(std::uint64_t line) const;
    // Deletes the progress file (its segment is gone).
    void remove();

  private:
    using BatchIndex = std::unordered_map<std::uint64_t, std::shared_ptr<const SpoolBatchRecord>>;

    SpoolProgress(std::filesystem::path path, util::Fd fd, std::unordered_set<std::uint64_t> done,
                  BatchIndex batches)
        : m_path(std::move(path)), m_fd(std::move(fd)), m_done(std::move(done)),
          m_batches(std::move(batches)) {}

    std::filesystem::path m_path;
    util::Fd m_fd;
    mutable std::mutex m_mutex;
    std::unordered_set<std::uint64_t> m_done;
    BatchIndex m_batches;  // by line
    std::string m_pending; // records of mark_done_later(), "N\n" each
};

} // namespace evrelay
