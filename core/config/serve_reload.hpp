#pragma once

#include "core/config/settings_precedence.hpp"

#include <string>
#include <vector>

namespace evrelay {

// What a SIGHUP does with the configuration read again (SPEC §9; issue 12 item 5). Everything a
// running serve can change in place is applied: the environments (added, removed, new
// credentials, CORS), the flush interval, the events URI, the outbound proxy and CA files, and
// where flag data is polled from. What is bound at start — the listener's port and TLS, the
// Prometheus listener and prefix, the payload size, whether events are forwarded at all, the
// disconnected-status time — keeps its old value and is named in a warning: it needs a restart.
struct ServeReload {
    // What serve runs with from now on: the new configuration, but for what needs a restart.
    UpstreamConfig upstream;
    ServeConfig serve;
    bool route_changed = false;          // events URI, proxy or CA files: Sender::reroute
    bool flush_interval_changed = false; // the flush timer's next wait
    bool base_uri_changed = false;       // the flag data poller's next poll
    // One phrase per change, for the info line ("flush interval 5s -> 2s", "environment
    // staging added"); credentials are never in them.
    std::vector<std::string> applied;
    // One phrase per setting that changed but needs a restart ("port 8030 -> 8040").
    std::vector<std::string> needs_restart;
};

ServeReload plan_serve_reload(const UpstreamConfig& old_upstream, const ServeConfig& old_serve,
                              UpstreamConfig new_upstream, ServeConfig new_serve);

} // namespace evrelay
