#pragma once

#include <filesystem>
#include <string>

namespace evrelay::test {

// A fresh directory under the system temp dir for one test; removed with its contents when the
// test ends.
class ScratchDir {
  public:
    ScratchDir();
    ~ScratchDir();
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;

    const std::filesystem::path& path() const { return m_path; }
    std::filesystem::path operator/(const std::string& name) const { return m_path / name; }
    // Writes `content` to a file in the directory and returns its path.
    std::filesystem::path write(const std::string& name, const std::string& content) const;

  private:
    std::filesystem::path m_path;
};

// Reads a whole file (throws on error: tests only).
std::string read_file(const std::filesystem::path& path);
// Path of a file in tests/fixtures/.
std::filesystem::path fixture_path(const std::string& name);

} // namespace evrelay::test
