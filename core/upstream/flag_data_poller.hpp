#pragma once

#include "core/flags/flag_store.hpp"
#include "core/model/outbound_proxy.hpp"
#include "core/upstream/proxy_settings.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
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
    // SIGHUP: polls from now on go to `base_uri` through `proxy`, trusting `ca_cert_files` (a
    // poll under way finishes as it began). The ETags kept are dropped with the old source.
    void set_route(const std::string& base_uri, const OutboundProxy& proxy,
                   const std::vector<std::string>& ca_cert_files);
    void stop();

  private:
    // Where a poll goes and how: made whole by make_route(), replaced whole by set_route().
    struct Route {
        std::string url;       // {base_uri}/sdk/latest-all
        std::string ca_bundle; // "" = curl's default
        CurlProxy proxy;       // all unset = curl's default
        std::string unusable;  // why no poll can be made ("" = they can), as the sender's
    };
    static std::shared_ptr<const Route> make_route(const std::string& base_uri,
                                                   const OutboundProxy& proxy,
                                                   const std::vector<std::string>& ca_cert_files);
    std::shared_ptr<const Route> route() const;
    // The outcome of one poll of one environment, as /status and the log describe it.
    enum class PollState { none, ok, refused, failing };
    void poll(const FlagPollTarget& target);
    void note_state(const std::string& env_name, const std::string& url, PollState state,
                    const std::string& message);
    void run();

    const FlagDataPollerOptions m_options;
    FlagStore& m_store;
    const std::function<std::vector<FlagPollTarget>()> m_targets;
    mutable std::mutex m_route_mutex; // m_route (never held during a poll)
    std::shared_ptr<const Route> m_route;

    std::mutex m_poll_mutex; // one poll at a time: the thread's rounds, poll_environment()
    std::map<std::string, std::string> m_etags; // by environment, of the last 200
    const Route* m_etags_route = nullptr;       // the route m_etags came from
    std::map<std::string, PollState> m_states;  // by environment
    std::mutex m_mutex;                         // m_stopping, the thread
    std::condition_variable m_wake;
    bool m_stopping = false;
    std::thread m_thread;
};

} // namespace evrelay
