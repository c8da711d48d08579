#pragma once

#include "core/util/error.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace evrelay {

// The on-disk layout of a spool (SPEC §7; man evrelay-flush(1) documents it for users):
//
//   DIR/                                       mode 0700, files 0600
//     20261127T031502.123456Z-4242-000001.open a segment a serve is writing (it holds a flock)
//     20261127T031402.000001Z-4242-000000.seg  a closed segment: capture lines, one per payload
//     20261127T031402.000001Z-4242-000000.seg.done  its progress: delivered line numbers
//     .delivery.lock                           held by whoever delivers (flush, a draining serve)
//     .<segment>.tmp                           a segment being created (locked, then renamed)
//     incoming/                                files other programs drop in (renamed in)
//     bad/                                     copies of files holding malformed data
//
// Names start with the UTC creation time, so sorting names sorts segments oldest first. An
// ".open" segment whose writer died has no lock any more and counts as closed.
class SpoolDirectory {
  public:
    // Opens DIR, creating it (0700) and its incoming/ and bad/ subdirectories when missing. The
    // error names the path and the failing step.
    static Result<SpoolDirectory> open(const std::filesystem::path& root);

    const std::filesystem::path& root() const { return m_root; }
    std::filesystem::path incoming_dir() const { return m_root / "incoming"; }
    std::filesystem::path bad_dir() const { return m_root / "bad"; }
    std::filesystem::path delivery_lock_path() const { return m_root / ".delivery.lock"; }

    // Every segment that is not being written, oldest first: ".seg" files and ".open" files
    // nobody holds a lock on (their writer died; their torn last line, if any, was never
    // acknowledged).
    std::vector<std::filesystem::path> closed_segments() const;
    // Segments still being written (locked by a live writer).
    std::size_t open_segment_count() const;
    // Regular files of incoming/ that are not hidden (".name" is a file still being written),
    // oldest modification time first.
    std::vector<std::filesystem::path> incoming_files() const;

    // "<UTC time>-<pid>-<sequence>", the stem of a new segment's file names; the sequence is
    // process-wide, so two writers of one process never pick the same name.
    static std::string new_segment_stem();
    static std::filesystem::path progress_path(const std::filesystem::path& segment);

    static constexpr const char* k_open_suffix = ".open";
    static constexpr const char* k_closed_suffix = ".seg";
    static constexpr const char* k_progress_suffix = ".done";

  private:
    explicit SpoolDirectory(std::filesystem::path root) : m_root(std::move(root)) {}
    std::filesystem::path m_root;
};

} // namespace evrelay
