#pragma once

#include "tests/support/child_process.hpp"
#include "tests/support/recording_upstream.hpp"
#include "tests/support/scratch_dir.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace evrelay::test {

// Runs the built evrelay binary with `args` (without the program name), bounded in time.
RunResult run_evrelay(const std::vector<std::string>& args,
                      std::optional<std::string> stdin_data = std::nullopt,
                      std::chrono::milliseconds timeout = std::chrono::seconds(60),
                      std::map<std::string, std::string> env = {});

// The raw bytes of each event of an analytics body (a JSON array); fails the test when the
// body is not a valid array of objects.
std::vector<std::string> events_of(const std::string& body);

// Every event of every request, in arrival order.
std::vector<std::string> all_events(const std::vector<RecordedRequest>& requests);

// `count` distinct, realistic events (shapes from the fixtures), each with a unique "seq".
std::vector<std::string> make_events(std::size_t count, std::size_t first_seq = 0);

// Joins events as NDJSON (one per line) or as one JSON array.
std::string as_ndjson(const std::vector<std::string>& events);
std::string as_array(const std::vector<std::string>& events);

// One capture envelope line (evrelay-capture/1) holding `events`.
std::string capture_line(const std::string& env, const std::string& sdk, int schema,
                         const std::string& tags, const std::vector<std::string>& events,
                         const std::string& payload_id = "",
                         const std::string& received = "2026-11-26T23:19:43.123Z");

// The post bodies of the requests recorded in a fixture capture (tests/fixtures/*.ndjson),
// re-serialised compactly, for the given method and path.
std::vector<std::string> fixture_bodies(const std::string& fixture, const std::string& path);

} // namespace evrelay::test
