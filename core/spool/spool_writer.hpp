#pragma once

#include "core/model/capture_record.hpp"
#include "core/model/payload.hpp"
#include "core/spool/spool_directory.hpp"
#include "core/spool/spool_segment_index.hpp"
#include "core/util/error.hpp"
#include "core/util/fd.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace evrelay {

struct SpoolWriterOptions {
    std::size_t segment_bytes = 64u << 20;        // --spool-segment-bytes
    std::chrono::milliseconds segment_age{60000}; // --spool-segment-age
    bool durable = false; // --durable: append() returns (append_async() completes) after fdatasync
    std::function<void()> on_segment_closed; // a closed segment is ready (wake a drainer)
    // Keep an in-memory index of the lines of segments closed by this writer (index_of()), up
    // to this many lines in all (older indexes are dropped first; 0 = keep none).
    std::size_t max_indexed_lines = 0;
    // The fdatasync(2) of a durable group, by default ::fdatasync: tests put a stalled disk
    // here (serve --durable-timeout). Returns 0, or -1 with errno set.
    std::function<int(int fd)> sync_data;
};

// Appends capture lines (SPEC §6) to the spool's current segment (SPEC §7). The segment is
// created on the first append as ".<stem>.tmp", locked with flock, then renamed to
// "<stem>.open" — so no reader ever sees an unlocked segment that is still in use — and closed
// when it reaches segment_bytes or segment_age, and by close(): appends go on into a new segment
// at once, while a closer thread syncs the old one, renames it to "<stem>.seg" and releases its
// lock (syncing 64 MiB takes long enough to show in every post's latency otherwise).
//
// Appends are group-committed: the first caller to find no write in progress becomes the
// leader, writes every line queued so far in one write(2) (and, when durable, one fdatasync),
// and wakes the others. So N concurrent durable posts cost one fsync, not N. A failed write
// (ENOSPC, EIO …) is cut back off the file with ftruncate, so the segment never holds a partial
// line, and every append of that group gets the error. Thread-safe.
//
// append_async() queues a line without waiting: the writer's committer thread leads the group
// it joins (or a synchronous appender does, whichever comes first) and calls its completion
// once the group is written (durable: synced), with the same outcome as append() would return.
// A server thread then never blocks on the fsync (`serve --durable`).
class SpoolWriter {
  public:
    // A line ready to append: formatted on the caller's thread, so the record's views need not
    // outlive the call that made it.
    struct Line {
        std::string text;
        std::optional<SpoolLineIndex> entry;
    };
    // Called once per append_async(), on the thread that led the group (the committer thread or
    // a synchronous appender), without the writer's locks held. It must not block, and must
    // not call close() (which waits for running completions).
    using AppendDone = std::function<void(Result<void>)>;

    SpoolWriter(SpoolDirectory directory, SpoolWriterOptions options);
    ~SpoolWriter(); // close()
    SpoolWriter(const SpoolWriter&) = delete;
    SpoolWriter& operator=(const SpoolWriter&) = delete;

    // One post or payload as one line. Returns once the line is written (durable: on disk).
    // `event_count` (the events in record.events_json) goes into the segment's index.
    Result<void> append(const CaptureRecord& record, std::size_t event_count = 0);
    // An undeliverable payload: the line keeps its payload ID, environment name and metadata.
    Result<void> append(const Payload& payload);

    // The line append(record, event_count) would write.
    Line prepare(const CaptureRecord& record, std::size_t event_count = 0) const;
    // Queues the line and returns at once; `done` gets the outcome once the line's group is
    // written (durable: on disk), or its error. close() writes what is queued before it and
    // returns once those completions (and any other still running) have returned; the
    // destructor completes every append still queued.
    void append_async(Line line, AppendDone done);

    // Closes the open segment when it is older than segment_age (call it from a timer). Never
    // waits: while a group is being written, its leader closes a due segment afterwards.
    void rotate_if_due();
    // Waits until every segment closed so far (by size, age or close()) is synced, renamed to
    // ".seg" and unlocked: closing happens on the writer's closer thread.
    void wait_for_closer();
    // Closes the open segment, if any, and waits for the closer; the next append starts a new
    // one.
    void close();
    // The index of a segment this writer closed (by its ".seg" path); nullptr when none is kept
    // (options.max_indexed_lines, not written here, or evicted). Indexes stay until evicted
    // (oldest first, beyond max_indexed_lines) or until the next close finds their segment
    // removed (delivered): a pass that stopped half-way uses it again.
    std::shared_ptr<const SpoolSegmentIndex> index_of(const std::filesystem::path& closed);

    // Deletes the open segment instead of closing it (an ingest that failed half-way: the
    // source file stays where it is and is read again later).
    void discard();

    std::uint64_t lines_written() const { return m_lines.load(); }
    std::uint64_t write_errors() const { return m_errors.load(); }
    std::uint64_t segments_closed() const { return m_segments_closed.load(); }
    // Groups written (durable: one fdatasync each), failed ones included: appends per group
    // = lines_written() / groups_written() when nothing failed.
    std::uint64_t groups_written() const { return m_groups.load(); }
    bool durable() const { return m_options.durable; }
    const SpoolDirectory& directory() const { return m_directory; }

  private:
    struct Group;
    Result<void> append_line(Line line);
    // Adds a line to the open group (creating it); needs m_mutex.
    std::shared_ptr<Group> enqueue_locked(Line line);
    // Takes the open group and writes it as the leader (no leader may be active; `lock` holds
    // m_mutex and holds it again on return, leadership handed over), then calls the group's
    // completions without the mutex.
    void lead_open_group(std::unique_lock<std::mutex>& lock);
    // Whether the committer thread has a group to lead. Needs m_mutex.
    bool committer_due_locked() const;
    void committer_loop();
    // Counts a failed append and logs the first failure.
    void count_error(const Error& error);
    // Writes (and syncs) `batch` at the end of the open segment, opening one when needed.
    // Called by the leader only, without m_mutex.
    Result<void> write_batch(Group& batch);
    Result<void> open_segment();
    // A segment taken off the writer, still locked and named ".open", to be synced, renamed to
    // ".seg" and unlocked by finish_close() — outside leadership, because syncing up to 64 MiB of
    // dirty pages takes hundreds of milliseconds and appends to the next segment must not wait.
    struct Closing {
        util::Fd fd;
        std::filesystem::path open_path, closed_path;
        bool empty = false;
        std::shared_ptr<SpoolSegmentIndex> index;
    };
    std::optional<Closing> close_segment(); // leader only
    void finish_close(Closing closing);
    void hand_to_closer(Closing closing);
    void closer_loop();
    bool segment_due() const; // leader only

    SpoolDirectory m_directory;
    SpoolWriterOptions m_options;

    // Lines appended while a leader writes collect in the open group; the next leader takes the
    // whole group. Waiters keep their group alive to read its outcome.
    struct Group {
        std::vector<std::string> lines; // written with writev(2): no copy into one buffer
        std::size_t bytes = 0;          // of all lines
        // Index entries of the group's lines, their events_offset relative to the group's start.
        std::vector<SpoolLineIndex> entries;
        bool indexable = true; // every line of the group has an entry
        // Its appenders wait here: for the group to be written, or to become the leader.
        std::condition_variable wake;
        bool finished = false;
        std::optional<Error> error;
        // The completions of its append_async() members, called by its leader once written.
        std::vector<AppendDone> completions;
    };
    // Makes the calling thread the leader (waiting for the current one to finish), runs fn
    // without the mutex, then hands leadership back.
    template <class Fn> void as_leader(Fn&& fn);
    // Ends the calling thread's leadership and wakes who may take it next. Needs m_mutex.
    void hand_over_leadership_locked();

    std::mutex m_mutex;
    std::condition_variable m_leader_free; // as_leader() waits here for the leader to finish
    std::shared_ptr<Group> m_open_group;
    bool m_leader_active = false;

    // Leader-only state (the leader is the one thread with m_leader_active set).
    util::Fd m_fd;
    std::filesystem::path m_open_path;
    std::string m_stem;
    std::uint64_t m_segment_size = 0;
    std::chrono::steady_clock::time_point m_segment_opened{};
    std::shared_ptr<SpoolSegmentIndex> m_index; // of the open segment; null once a line lacks one

    std::mutex m_index_mutex;
    std::map<std::filesystem::path, std::shared_ptr<const SpoolSegmentIndex>> m_closed_indexes;
    std::size_t m_indexed_lines = 0;

    // The closer thread: syncs, renames and unlocks closed segments (finish_close).
    std::mutex m_closer_mutex;
    std::condition_variable m_closer_wake;
    std::deque<Closing> m_closings;
    int m_closings_running = 0;
    bool m_closer_stop = false;

    std::atomic<std::uint64_t> m_lines{0};
    std::atomic<std::uint64_t> m_errors{0};
    std::atomic<std::uint64_t> m_segments_closed{0};
    std::atomic<std::uint64_t> m_groups{0};
    std::atomic<bool> m_warned{false};

    // The committer thread leads groups with append_async() members when no appender does.
    std::condition_variable m_committer_wake; // with m_mutex
    bool m_committer_stop = false;            // with m_mutex
    // Leaders calling completions now (with m_mutex); close() waits for none.
    int m_completing = 0;
    std::condition_variable m_completed; // with m_mutex

    // Last: started once every member they use exists.
    std::thread m_closer;
    std::thread m_committer;
};

} // namespace evrelay
