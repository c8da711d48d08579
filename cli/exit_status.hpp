#pragma once

// sysexits(3) values, as SPEC §10 assigns them.
// Named as sysexits(3) names them, less the EX_ prefix the namespace stands for
// (`exit_status::usage` reads as EX_USAGE); a k_ prefix would add nothing here.
// NOLINTBEGIN(readability-identifier-naming)
namespace evrelay::exit_status {
inline constexpr int ok = 0;
inline constexpr int other = 1;
inline constexpr int usage = 64;       // EX_USAGE: bad flags or arguments
inline constexpr int data_error = 65;  // EX_DATAERR: malformed input
inline constexpr int no_input = 66;    // EX_NOINPUT: an input file cannot be opened
inline constexpr int unavailable = 69; // EX_UNAVAILABLE: upstream unavailable at start
inline constexpr int temp_fail = 75;   // EX_TEMPFAIL: some events remain undelivered; retry later
inline constexpr int config = 78;      // EX_CONFIG: configuration or credential problem
} // namespace evrelay::exit_status
// NOLINTEND(readability-identifier-naming)
