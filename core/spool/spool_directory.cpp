#include "core/spool/spool_directory.hpp"

#include "core/util/fd.hpp"
#include "core/util/file_lock.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace evrelay {

namespace fs = std::filesystem;

namespace {

Result<void> make_private_dir(const fs::path& path) {
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
        return make_error(ErrorKind::io, "cannot create spool directory " + path.string() + ": " +
                                             std::strerror(errno));
    }
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
        return make_error(ErrorKind::io, "spool path " + path.string() + " is not a directory");
    }
    if (::access(path.c_str(), R_OK | W_OK | X_OK) != 0) {
        return make_error(ErrorKind::io,
                          "spool directory " + path.string() + ": " + std::strerror(errno));
    }
    return {};
}

bool ends_with(const std::string& text, std::string_view suffix) {
    return text.size() >= suffix.size() &&
           text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// True when a live writer holds the segment's lock. A file that vanished (its writer renamed
// it to ".seg" a moment ago) counts as locked: the next listing sees its new name.
bool held_by_writer(const fs::path& segment) {
    util::Fd fd(::open(segment.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        return true;
    }
    return !util::FileLock::try_adopt(std::move(fd)).has_value();
}

} // namespace

Result<SpoolDirectory> SpoolDirectory::open(const fs::path& root) {
    for (const fs::path& dir : {root, root / "incoming", root / "bad"}) {
        if (auto made = make_private_dir(dir); !made) {
            return tl::unexpected(made.error());
        }
    }
    return SpoolDirectory(root);
}

std::vector<fs::path> SpoolDirectory::closed_segments() const {
    std::vector<fs::path> segments;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(m_root, error)) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || name[0] == '.' || !entry.is_regular_file(error)) {
            continue;
        }
        if (ends_with(name, k_closed_suffix) ||
            (ends_with(name, k_open_suffix) && !held_by_writer(entry.path()))) {
            segments.push_back(entry.path());
        }
    }
    std::sort(segments.begin(), segments.end(),
              [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
    return segments;
}

std::size_t SpoolDirectory::open_segment_count() const {
    std::size_t count = 0;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(m_root, error)) {
        const std::string name = entry.path().filename().string();
        if (!name.empty() && name[0] != '.' && ends_with(name, k_open_suffix) &&
            held_by_writer(entry.path())) {
            ++count;
        }
    }
    return count;
}

std::vector<fs::path> SpoolDirectory::incoming_files() const {
    std::vector<std::pair<fs::file_time_type, fs::path>> files;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(incoming_dir(), error)) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || name[0] == '.' || !entry.is_regular_file(error)) {
            continue;
        }
        files.emplace_back(entry.last_write_time(error), entry.path());
    }
    std::sort(files.begin(), files.end());
    std::vector<fs::path> paths;
    paths.reserve(files.size());
    for (auto& file : files) {
        paths.push_back(std::move(file.second));
    }
    return paths;
}

std::string SpoolDirectory::new_segment_stem() {
    static std::atomic<std::uint64_t> next_sequence{0};
    const std::uint64_t sequence = next_sequence.fetch_add(1);
    const auto now = std::chrono::system_clock::now();
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                            now.time_since_epoch() - std::chrono::seconds(seconds))
                            .count();
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &utc);
    return fmt::format("{}.{:06}Z-{}-{:06}", stamp, micros, ::getpid(), sequence);
}

fs::path SpoolDirectory::progress_path(const fs::path& segment) {
    fs::path progress = segment;
    progress += k_progress_suffix;
    return progress;
}

} // namespace evrelay
