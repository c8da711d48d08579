#pragma once

#include "core/flags/flag_data.hpp"
#include "core/util/error.hpp"

#include <filesystem>
#include <memory>

namespace evrelay {

// Reads and parses a --flags file (the SDKs' flag-data JSON, SPEC §8). The error names the file
// and what is wrong in it (parse_flag_data's message: where, which flag).
Result<std::shared_ptr<const FlagData>> load_flag_file(const std::filesystem::path& path);

} // namespace evrelay
