#pragma once

#include <string>

namespace evrelay {

// Sets up the one process-wide logger (spdlog, to stderr). `format` is "text" or "json" (one
// JSON object per line: time, level, msg). Throws CLI::ValidationError-free std::invalid_argument
// for unknown values; main turns it into a usage error.
void setup_logging(const std::string& level, const std::string& format);

} // namespace evrelay
