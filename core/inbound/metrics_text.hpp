#pragma once

#include "core/inbound/status_report.hpp"
#include "core/model/counters.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace evrelay {

// GET /metrics: the counters in Prometheus text exposition format 0.0.4. Per (env, sdk):
// evrelay_events_received_total, evrelay_events_forwarded_total,
// evrelay_events_dropped_total{reason}, evrelay_payloads_sent_total, evrelay_retries_total,
// evrelay_queue_events (gauge: accepted, not yet delivered or dropped); per status:
// evrelay_upstream_failures_total (0 = connection error or timeout),
// evrelay_posts_rejected_total (inbound posts answered with an error); and the
// evrelay_in_flight_bytes gauge. A non-empty `prefix` ([Prometheus] prefix, already checked to
// be a valid start of a metric name) is joined to every name with '_': "myrelay" gives
// myrelay_evrelay_events_received_total, as Relay's exporter prefixes its own.
std::string render_prometheus_metrics(const CounterRegistry& counters, const RuntimeStatus& runtime,
                                      const std::map<int, std::uint64_t>& rejected_posts,
                                      std::string_view prefix = {});

inline constexpr const char* k_prometheus_content_type = "text/plain; version=0.0.4; charset=utf-8";

} // namespace evrelay
