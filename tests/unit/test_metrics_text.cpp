// GET /metrics: Prometheus text, with [Prometheus] prefix on every name.
#include "core/inbound/metrics_text.hpp"

#include <catch2/catch.hpp>

#include <sstream>

using namespace evrelay;

namespace {

std::string render(std::string_view prefix) {
    CounterRegistry counters;
    counters.for_target("production", SdkKind::server).events_received.fetch_add(3);
    counters.count_upstream_status(503);
    RuntimeStatus runtime;
    runtime.in_flight_bytes = 10;
    return render_prometheus_metrics(counters, runtime, {{401, 1}}, prefix);
}

// The metric name of a sample or of a # HELP / # TYPE line.
std::string name_of(const std::string& line) {
    std::string rest = line.starts_with("# ") ? line.substr(line.find(' ', 2) + 1) : line;
    return rest.substr(0, rest.find_first_of("{ "));
}

} // namespace

TEST_CASE("render_prometheus_metrics: the prefix starts every metric name", "[inbound]") {
    const std::string plain = render("");
    const std::string prefixed = render("myrelay");
    CHECK(plain.find("evrelay_events_received_total{env=\"production\",sdk=\"server\"} 3\n") !=
          std::string::npos);
    CHECK(prefixed.find("myrelay_evrelay_events_received_total{env=\"production\",sdk=\"server\"} "
                        "3\n") != std::string::npos);
    std::istringstream plain_lines(plain);
    std::istringstream prefixed_lines(prefixed);
    std::string plain_line;
    std::string prefixed_line;
    std::size_t lines = 0;
    while (std::getline(plain_lines, plain_line)) {
        REQUIRE(std::getline(prefixed_lines, prefixed_line));
        INFO(prefixed_line);
        CHECK(name_of(plain_line).starts_with("evrelay_"));
        CHECK(name_of(prefixed_line) == "myrelay_" + name_of(plain_line));
        ++lines;
    }
    CHECK_FALSE(std::getline(prefixed_lines, prefixed_line));
    CHECK(lines > 20);
}
