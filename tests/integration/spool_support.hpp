#pragma once

#include "harness.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace evrelay::test {

// One line of a spool segment, as the test reads it back from disk.
struct SpooledPayload {
    std::string file;
    std::string payload_id;
    std::string env;
    std::vector<std::string> events;
};

// Every line of every segment file (".seg" and ".open") in `dir`, in file-name order.
std::vector<SpooledPayload> spooled_payloads(const std::string& dir);
// Names of the files directly in `dir` ending with `suffix` (e.g. ".seg").
std::vector<std::string> files_with_suffix(const std::string& dir, const std::string& suffix);

// "http://127.0.0.1:P" where nothing listens (connections are refused at once).
std::string refused_url();

// Requests the upstream answered 2xx: payload ID → its events (a payload delivered twice under
// one ID counts once here; see delivered_twice).
std::map<std::string, std::vector<std::string>>
delivered_payloads(const std::vector<RecordedRequest>& requests);
// Payload IDs answered 2xx more than once.
std::vector<std::string> delivered_twice(const std::vector<RecordedRequest>& requests);
// Every event of every 2xx-answered request, each payload ID counted once.
std::multiset<std::string> delivered_events(const std::vector<RecordedRequest>& requests);

// How `delivered` (delivered_events()) covers the events a test got 202s for.
struct DeliveryComparison {
    std::size_t missing = 0; // accepted events that never arrived
    std::size_t doubled = 0; // accepted events that arrived more than once (under two IDs)
};
DeliveryComparison compare_delivered(const std::vector<std::string>& accepted,
                                     const std::multiset<std::string>& delivered);

// Posts `events` to serve's /bulk in posts of `per_post`, with `key`; returns the events of the
// posts answered 202 (the others are dropped from the list).
std::vector<std::string> post_events(std::uint16_t port, const std::string& key,
                                     const std::vector<std::string>& events, std::size_t per_post);

// Writes a closed segment `name` (".seg" added) with one capture line per payload.
void write_segment(const std::string& dir, const std::string& name,
                   const std::vector<std::string>& lines);

// Clients posting 5-event posts to serve's /bulk from `threads` threads until stop() (or 2,000
// posts each, or the server is gone); keeps the events of the posts answered 202.
class LoadClients {
  public:
    LoadClients(std::uint16_t port, std::string key, int threads);
    ~LoadClients();
    void stop();
    std::vector<std::string> accepted();
    std::size_t accepted_count();
    std::size_t refused_count() { return m_refused.load(); } // answered 503

  private:
    std::atomic<bool> m_stop{false};
    std::atomic<std::size_t> m_refused{0};
    std::mutex m_mutex;
    std::vector<std::string> m_accepted;
    std::vector<std::thread> m_threads;
};

// The port a `serve --bind 127.0.0.1 --port 0` child announced ("listening on …"), waiting up to
// 10 s for the line; 0 when it did not come.
std::uint16_t listening_port(ChildProcess& serve);

// Polls `done` every 20 ms until it is true or `timeout` passed; returns its last value.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout);

} // namespace evrelay::test
