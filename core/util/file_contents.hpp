#pragma once

#include "core/util/error.hpp"

#include <filesystem>
#include <string>

namespace evrelay::util {

// The whole content of a (small) file: a config file, a flag-data file, a CA file. The error
// (ErrorKind::io) reads "PATH: cannot open: REASON" or "PATH: cannot read: REASON".
Result<std::string> read_file_contents(const std::filesystem::path& path);

} // namespace evrelay::util
