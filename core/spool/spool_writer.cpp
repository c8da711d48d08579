#include "core/spool/spool_writer.hpp"

#include "core/util/file_lock.hpp"

#include <climits>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/uio.h>
#include <unistd.h>

namespace evrelay {

namespace fs = std::filesystem;

namespace {

// Writes every line, in order, with as few writev(2) calls as IOV_MAX allows.
Result<void> write_lines(int fd, const std::vector<std::string>& lines, const fs::path& path) {
    std::vector<iovec> iov;
    iov.reserve(std::min<std::size_t>(lines.size(), IOV_MAX));
    std::size_t first = 0;  // the first line not completely written
    std::size_t offset = 0; // bytes of it written
    while (first < lines.size()) {
        iov.clear();
        for (std::size_t i = first; i < lines.size() && iov.size() < IOV_MAX; ++i) {
            const std::size_t skip = i == first ? offset : 0;
            iov.push_back(iovec{const_cast<char*>(lines[i].data()) + skip, lines[i].size() - skip});
        }
        const ssize_t n = ::writev(fd, iov.data(), static_cast<int>(iov.size()));
        if (n <= 0) {
            if (n < 0 && errno == EINTR) {
                continue;
            }
            return make_error(ErrorKind::io, "cannot write spool segment " + path.string() + ": " +
                                                 std::strerror(n < 0 ? errno : EIO));
        }
        auto left = static_cast<std::size_t>(n);
        while (left > 0) {
            const std::size_t rest = lines[first].size() - offset;
            if (left < rest) {
                offset += left;
                break;
            }
            left -= rest;
            ++first;
            offset = 0;
        }
        while (first < lines.size() && lines[first].size() == offset) {
            ++first; // an empty line (none is, but a loop must not hang on one)
            offset = 0;
        }
    }
    return {};
}

// Makes a rename or a new name in `dir` durable (POSIX: fsync the directory).
void sync_directory(const fs::path& dir) {
    util::Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd) {
        ::fsync(fd.get());
    }
}

} // namespace

SpoolWriter::SpoolWriter(SpoolDirectory directory, SpoolWriterOptions options)
    : m_directory(std::move(directory)), m_options(std::move(options)),
      m_closer([this] { closer_loop(); }), m_committer([this] { committer_loop(); }) {}

SpoolWriter::~SpoolWriter() {
    // The committer first: it writes what append_async() still queued and calls its completions.
    {
        std::lock_guard lock(m_mutex);
        m_committer_stop = true;
    }
    m_committer_wake.notify_all();
    m_committer.join();
    close();
    {
        std::lock_guard lock(m_closer_mutex);
        m_closer_stop = true;
    }
    m_closer_wake.notify_all();
    m_closer.join();
}

void SpoolWriter::hand_to_closer(Closing closing) {
    {
        std::lock_guard lock(m_closer_mutex);
        m_closings.push_back(std::move(closing));
    }
    m_closer_wake.notify_all();
}

void SpoolWriter::closer_loop() {
    std::unique_lock lock(m_closer_mutex);
    while (true) {
        m_closer_wake.wait(lock, [this] { return m_closer_stop || !m_closings.empty(); });
        if (m_closings.empty()) {
            return; // stopping, and nothing left to close
        }
        Closing closing = std::move(m_closings.front());
        m_closings.pop_front();
        ++m_closings_running;
        lock.unlock();
        finish_close(std::move(closing));
        lock.lock();
        --m_closings_running;
        m_closer_wake.notify_all();
    }
}

void SpoolWriter::wait_for_closer() {
    std::unique_lock lock(m_closer_mutex);
    m_closer_wake.wait(lock, [this] { return m_closings.empty() && m_closings_running == 0; });
}

SpoolWriter::Line SpoolWriter::prepare(const CaptureRecord& record, std::size_t event_count) const {
    Line line;
    line.text.reserve(record.events_json.size() + 256);
    append_capture_line(line.text, record);
    if (m_options.max_indexed_lines > 0 && event_count > 0) {
        SpoolLineIndex& entry = line.entry.emplace();
        // append_capture_line puts the events last, before "}\n".
        entry.events_offset = line.text.size() - 2 - record.events_json.size();
        entry.events_length = static_cast<std::uint32_t>(record.events_json.size());
        entry.event_count = static_cast<std::uint32_t>(event_count);
        entry.payload_id = record.payload_id.value_or("");
        entry.env_name = record.env_name;
        entry.sdk = record.sdk;
        entry.kind = record.kind;
        entry.metadata = record.metadata;
        entry.received = record.received;
    }
    return line;
}

Result<void> SpoolWriter::append(const CaptureRecord& record, std::size_t event_count) {
    return append_line(prepare(record, event_count));
}

Result<void> SpoolWriter::append(const Payload& payload) {
    CaptureRecord record;
    record.received = payload.created;
    record.env_name = payload.env_name;
    record.sdk = payload.sdk;
    record.kind = payload.data;
    record.metadata = payload.metadata;
    if (!payload.id.empty()) {
        record.payload_id = payload.id;
    }
    record.events_json = payload.body;
    return append(record, payload.event_count);
}

void SpoolWriter::hand_over_leadership_locked() {
    m_leader_active = false;
    // Wake one appender of the group that collected meanwhile (it becomes the next leader), and
    // one thread waiting in as_leader(); whoever takes the mutex first leads, the other waits
    // again. Waking every waiter instead made each group cost one context switch per thread.
    if (m_open_group) {
        m_open_group->wake.notify_one();
        if (!m_open_group->completions.empty()) {
            m_committer_wake.notify_one(); // it may have no synchronous appender to lead it
        }
    }
    m_leader_free.notify_one();
}

template <class Fn> void SpoolWriter::as_leader(Fn&& fn) {
    {
        std::unique_lock lock(m_mutex);
        m_leader_free.wait(lock, [this] { return !m_leader_active; });
        m_leader_active = true;
    }
    fn();
    std::lock_guard lock(m_mutex);
    hand_over_leadership_locked();
}

std::shared_ptr<SpoolWriter::Group> SpoolWriter::enqueue_locked(Line line) {
    if (!m_open_group) {
        m_open_group = std::make_shared<Group>();
    }
    Group& group = *m_open_group;
    if (line.entry) {
        line.entry->events_offset += group.bytes;
        group.entries.push_back(std::move(*line.entry));
    } else {
        group.indexable = false;
    }
    group.bytes += line.text.size();
    group.lines.push_back(std::move(line.text));
    return m_open_group;
}

void SpoolWriter::lead_open_group(std::unique_lock<std::mutex>& lock) {
    m_leader_active = true;
    std::shared_ptr<Group> batch = std::move(m_open_group);
    lock.unlock();
    Result<void> written = write_batch(*batch);
    m_groups.fetch_add(1);
    std::optional<Closing> closing;
    if (written && segment_due()) {
        closing = close_segment();
    }
    lock.lock();
    batch->finished = true;
    if (!written) {
        batch->error = written.error();
    }
    batch->wake.notify_all(); // the group's own appenders: their lines are written
    hand_over_leadership_locked();
    if (closing) {
        // Its sync takes long (up to 64 MiB of dirty pages): the closer thread does it, so that
        // no post waits for it. Handed over with m_mutex held, so that close() (which leads
        // next at the earliest) finds it there when it waits for the closer.
        hand_to_closer(std::move(*closing));
    }
    std::vector<AppendDone> completions = std::move(batch->completions);
    if (completions.empty()) {
        return;
    }
    ++m_completing;
    lock.unlock();
    if (written) {
        m_lines.fetch_add(completions.size());
    }
    for (auto& done : completions) {
        if (!written) {
            count_error(written.error());
        }
        // Caught here, not in cli/main.cpp, on purpose: a completion is its caller's code run on
        // a thread that is not the caller's — the committer, or whichever appender leads the
        // group — so an exception from it can never reach main. Let through, it would end the
        // committer (std::terminate) or come out of an unrelated post's append(), skipping the
        // other completions of the group (their posts never answered) and leaving m_completing
        // raised (close() would wait forever). Logged, and the others still run.
        try {
            done(written);
        } catch (const std::exception& e) {
            spdlog::error("spool: an append's completion failed: {}", e.what());
        } catch (...) {
            spdlog::error("spool: an append's completion failed");
        }
    }
    // Destroyed before close() may return: what they hold (a server session) may need what the
    // caller of close() destroys next.
    completions.clear();
    lock.lock();
    if (--m_completing == 0) {
        m_completed.notify_all();
    }
}

Result<void> SpoolWriter::append_line(Line line) {
    std::unique_lock lock(m_mutex);
    std::shared_ptr<Group> mine = enqueue_locked(std::move(line));
    while (!mine->finished) {
        if (m_leader_active) {
            mine->wake.wait(lock);
            continue;
        }
        // Not finished and no leader: `mine` is still the open group. Lead it.
        lead_open_group(lock);
    }
    lock.unlock();
    if (mine->error) {
        count_error(*mine->error);
        return tl::unexpected(*mine->error);
    }
    m_lines.fetch_add(1);
    return {};
}

void SpoolWriter::append_async(Line line, AppendDone done) {
    std::unique_lock lock(m_mutex);
    std::shared_ptr<Group> group = enqueue_locked(std::move(line));
    group->completions.push_back(std::move(done));
    // With a leader at work, its hand-over wakes the committer for this group.
    const bool wake = !m_leader_active && group->completions.size() == 1;
    lock.unlock();
    if (wake) {
        m_committer_wake.notify_one();
    }
}

bool SpoolWriter::committer_due_locked() const {
    return !m_leader_active && m_open_group && !m_open_group->completions.empty();
}

void SpoolWriter::committer_loop() {
    std::unique_lock lock(m_mutex);
    while (true) {
        // On stop, what append_async() queued is still written and completed.
        m_committer_wake.wait(lock, [this] {
            return committer_due_locked() ||
                   (m_committer_stop && !(m_open_group && !m_open_group->completions.empty()));
        });
        if (!committer_due_locked()) {
            return;
        }
        lead_open_group(lock);
    }
}

void SpoolWriter::count_error(const Error& error) {
    m_errors.fetch_add(1);
    if (!m_warned.exchange(true)) {
        spdlog::error("spool: {} (further spool write errors are only counted)", error.message);
    }
}

Result<void> SpoolWriter::write_batch(Group& group) {
    if (!m_fd) {
        if (auto opened = open_segment(); !opened) {
            return opened;
        }
    }
    Result<void> written = write_lines(m_fd.get(), group.lines, m_open_path);
    if (written && m_options.durable &&
        (m_options.sync_data ? m_options.sync_data(m_fd.get()) : ::fdatasync(m_fd.get())) != 0) {
        written = make_error(ErrorKind::io, "cannot sync spool segment " + m_open_path.string() +
                                                ": " + std::strerror(errno));
    }
    if (!written) {
        // Cut off what part of the group reached the file: the segment must hold whole lines
        // only, and none that was not acknowledged. If even that fails, close the segment — a
        // reader skips its torn last line with a warning (SPEC §7).
        if (::ftruncate(m_fd.get(), static_cast<off_t>(m_segment_size)) != 0) {
            if (auto closing = close_segment()) {
                finish_close(std::move(*closing));
            }
        }
        return written;
    }
    if (m_index && group.indexable) {
        for (auto& entry : group.entries) {
            entry.events_offset += m_segment_size;
            m_index->push_back(std::move(entry));
        }
    } else {
        m_index.reset(); // a line without an entry: the segment is read in full instead
    }
    m_segment_size += group.bytes;
    return {};
}

Result<void> SpoolWriter::open_segment() {
    m_stem = SpoolDirectory::new_segment_stem();
    const fs::path temporary = m_directory.root() / ("." + m_stem + ".tmp");
    util::Fd fd(
        ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600));
    if (!fd) {
        return make_error(ErrorKind::io, "cannot create spool segment " + temporary.string() +
                                             ": " + std::strerror(errno));
    }
    // Locked before it gets a name readers look at (SPEC §7: the writer's lock on its segment).
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        const int error = errno;
        ::unlink(temporary.c_str());
        return make_error(ErrorKind::io, "cannot lock spool segment " + temporary.string() + ": " +
                                             std::strerror(error));
    }
    const fs::path open_path = m_directory.root() / (m_stem + SpoolDirectory::k_open_suffix);
    if (::rename(temporary.c_str(), open_path.c_str()) != 0) {
        const int error = errno;
        ::unlink(temporary.c_str());
        return make_error(ErrorKind::io, "cannot name spool segment " + open_path.string() + ": " +
                                             std::strerror(error));
    }
    if (m_options.durable) {
        sync_directory(m_directory.root());
    }
    m_fd = std::move(fd);
    m_open_path = open_path;
    m_segment_size = 0;
    m_segment_opened = std::chrono::steady_clock::now();
    if (m_options.max_indexed_lines > 0) {
        m_index = std::make_shared<SpoolSegmentIndex>();
    }
    return {};
}

bool SpoolWriter::segment_due() const {
    if (!m_fd) {
        return false;
    }
    return m_segment_size >= m_options.segment_bytes ||
           std::chrono::steady_clock::now() - m_segment_opened >= m_options.segment_age;
}

std::optional<SpoolWriter::Closing> SpoolWriter::close_segment() {
    if (!m_fd) {
        return std::nullopt;
    }
    Closing closing;
    closing.fd = std::move(m_fd);
    closing.open_path = m_open_path;
    closing.closed_path = m_directory.root() / (m_stem + SpoolDirectory::k_closed_suffix);
    closing.empty = m_segment_size == 0;
    closing.index = std::move(m_index);
    m_segment_size = 0;
    return closing;
}

void SpoolWriter::finish_close(Closing closing) {
    // Data first, then the name: a closed segment is whole on disk before anyone delivers it.
    // Until the rename and the unlock below, readers see a locked ".open" file and leave it.
    ::fdatasync(closing.fd.get());
    if (closing.empty) {
        ::unlink(closing.open_path.c_str());
    } else if (::rename(closing.open_path.c_str(), closing.closed_path.c_str()) != 0) {
        // Still readable: once the lock is released below, the ".open" file counts as closed.
        spdlog::warn("spool: cannot rename {} to {}: {}", closing.open_path.string(),
                     closing.closed_path.string(), std::strerror(errno));
    }
    if (m_options.durable) {
        sync_directory(m_directory.root());
    }
    if (closing.index && !closing.empty) {
        std::lock_guard lock(m_index_mutex);
        // The indexes of segments delivered since (their files removed) are never used again: a
        // durable serve closes a segment every flush interval and drains it seconds later, and
        // kept them all until max_indexed_lines (~300 bytes a line) — its RSS grew with every
        // post (bench/soak.sh).
        for (auto it = m_closed_indexes.begin(); it != m_closed_indexes.end();) {
            std::error_code ignored;
            if (fs::exists(it->first, ignored) || ignored) {
                ++it;
            } else {
                m_indexed_lines -= it->second->size();
                it = m_closed_indexes.erase(it);
            }
        }
        m_indexed_lines += closing.index->size();
        m_closed_indexes[closing.closed_path] = std::move(closing.index);
        // Bounded: while the upstream is away, indexes of old segments are dropped first (names
        // sort oldest first); those segments are then read in full.
        while (m_indexed_lines > m_options.max_indexed_lines && !m_closed_indexes.empty()) {
            m_indexed_lines -= m_closed_indexes.begin()->second->size();
            m_closed_indexes.erase(m_closed_indexes.begin());
        }
    }
    closing.fd.close(); // releases the flock
    if (!closing.empty) {
        m_segments_closed.fetch_add(1);
        if (m_options.on_segment_closed) {
            m_options.on_segment_closed();
        }
    }
}

void SpoolWriter::rotate_if_due() {
    {
        // A leader at work closes a due segment itself once its group is written. Waiting for
        // it here would hold the calling server thread as long as its fdatasync takes — on a
        // stalled disk, every server thread in turn, and no --durable-timeout answer could be
        // written.
        std::lock_guard lock(m_mutex);
        if (m_leader_active) {
            return;
        }
        m_leader_active = true;
    }
    std::optional<Closing> closing;
    if (segment_due()) {
        closing = close_segment();
    }
    {
        std::lock_guard lock(m_mutex);
        hand_over_leadership_locked();
    }
    if (closing) {
        hand_to_closer(std::move(*closing)); // the caller is a server thread: do not block it
    }
}

void SpoolWriter::close() {
    std::optional<Closing> closing;
    {
        std::unique_lock lock(m_mutex);
        m_leader_free.wait(lock, [this] { return !m_leader_active; });
        if (m_open_group) {
            // Lines queued before close() (append_async() waiting for the committer) go into
            // the segment being closed, not into a new one after it.
            lead_open_group(lock);
            m_leader_free.wait(lock, [this] { return !m_leader_active; });
        }
        m_leader_active = true;
    }
    closing = close_segment();
    {
        std::unique_lock lock(m_mutex);
        hand_over_leadership_locked();
        m_completed.wait(lock, [this] { return m_completing == 0; });
    }
    if (closing) {
        hand_to_closer(std::move(*closing));
    }
    wait_for_closer(); // every segment closed so far is synced, renamed and unlocked
}

std::shared_ptr<const SpoolSegmentIndex> SpoolWriter::index_of(const fs::path& closed) {
    std::lock_guard lock(m_index_mutex);
    auto found = m_closed_indexes.find(closed);
    return found == m_closed_indexes.end() ? nullptr : found->second;
}

void SpoolWriter::discard() {
    as_leader([this] {
        if (m_fd) {
            ::unlink(m_open_path.c_str());
            m_fd.close();
        }
    });
}

} // namespace evrelay
