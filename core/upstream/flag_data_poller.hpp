#pragma once

#include "core/flags/flag_store.hpp"
#include "core/model/outbound_proxy.hpp"
#include "core/upstream/proxy_settings.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace evrelay {

// One environment whose flag data is polled: its name and SDK key.
struct FlagPollTarget {
    std::string env_name;
    std::string sdk_key;
};

struct FlagDataPollerOptions {
    std::string base_uri = "https://sdk.launchdarkly.com"; // [Main] baseUri, --base-uri
    std::chrono::milliseconds interval{30000};             // --flags-poll-interval
    std::string user_agent = std::string("evrelay/") + EVRELAY_VERSION;
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds request_timeout{30000};
    OutboundProxy proxy;                    // the sender's, credentials and all
    std::vector<std::string> ca_cert_files; // the sender's, added to the default bundle
    std::size_t max_body_bytes = 64u << 20;
};

// Keeps each environment's flag data current for the summariser when no --flags file is given
// (SPEC §8): GET {baseUri}/sdk/latest-all with the environment's SDK key, every interval, with
// If-None-Match on the ETag of the last 200. A 200 replaces the data; a 304 confirms it; a 401
// or 403 (key refused), any other status, an unparsable body or an outage keeps the last data and
// is shown in /status and logged once per change of state (not once per poll). Polls from one
// thread of its own, environment after environment; the targets are asked for every round, so a
// SIGHUP that adds or removes environments needs nothing else.
class FlagDataPoller {
  public:
    FlagDataPoller(FlagDataPollerOptions options, FlagStore& store,
                   std::function<std::vector<FlagPollTarget>()> targets);
    ~FlagDataPoller(); // stop()
    FlagDataPoller(const FlagDataPoller&) = delete;
    FlagDataPoller& operator=(const FlagDataPoller&) = delete;

    // Starts the polling thread; its first round starts at once.
    void start();
    // Polls every target once, on the caller's thread (start-up, tests).
    void poll_once();
    // Polls the one target named `env_name` now, on the caller's thread (replay and flush ask
    // for an environment's data when its first old-schema event comes); false when no target
    // has that name or it has no SDK key.
    bool poll_environment(const std::string& env_name);
    void stop();

  private:
    // The outcome of one poll of one environment, as /status and the log describe it.
    enum class PollState { none, ok, refused, failing };
    void poll(const FlagPollTarget& target);
    void note_state(const std::string& env_name, PollState state, const std::string& message);
    void run();

    const FlagDataPollerOptions m_options;
    FlagStore& m_store;
    const std::function<std::vector<FlagPollTarget>()> m_targets;
    const std::string m_url;
    std::string m_ca_bundle; // "" = curl's default
    CurlProxy m_proxy;       // all unset = curl's default
    std::string m_unusable;  // why no poll can be made ("" = they can), as the sender's

    std::mutex m_poll_mutex; // one poll at a time: the thread's rounds, poll_environment()
    std::map<std::string, std::string> m_etags; // by environment, of the last 200
    std::map<std::string, PollState> m_states;  // by environment
    std::mutex m_mutex;                         // m_stopping, the thread
    std::condition_variable m_wake;
    bool m_stopping = false;
    std::thread m_thread;
};

} // namespace evrelay
