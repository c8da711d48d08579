// README "Reusing a Relay Proxy configuration": its Relay config, run as the README says (only
// the certificate paths and the ports changed), logs exactly the warnings the README shows and
// serves HTTPS and Prometheus — so the documentation cannot drift from the program.
#include "serve_client.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

using namespace evrelay::test;

namespace {

// The README's section from its heading to the next "### " heading.
std::string readme_section(const std::string& heading) {
    std::ifstream in(std::filesystem::path(EVRELAY_SOURCE_DIR) / "README.md");
    REQUIRE(in);
    std::stringstream text;
    text << in.rdbuf();
    const std::string readme = text.str();
    const auto start = readme.find(heading);
    REQUIRE(start != std::string::npos);
    const auto end = readme.find("\n### ", start + heading.size());
    return readme.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// The body of the first fenced block whose opening fence is "```" + `info` in `text`.
std::string fenced_block(const std::string& text, const std::string& info) {
    const std::string fence = "```" + info + "\n";
    const auto start = text.find(fence);
    REQUIRE(start != std::string::npos);
    const auto end = text.find("```", start + fence.size());
    REQUIRE(end != std::string::npos);
    return text.substr(start + fence.size(), end - start - fence.size());
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line);
    }
    return lines;
}

} // namespace

TEST_CASE("serve: the README's Relay config is reused unchanged and logs what the README shows",
          "[serve][readme]") {
    const std::string section = readme_section("### Reusing a Relay Proxy configuration");
    std::string config = fenced_block(section, "ini");
    const auto shown_log = lines_of(fenced_block(section, "text"));

    ScratchDir dir;
    const auto cert = dir / "relay.crt";
    const auto key = dir / "relay.key";
    const std::string openssl = "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost "
                                "-addext subjectAltName=IP:127.0.0.1 -days 1 -keyout '" +
                                key.string() + "' -out '" + cert.string() + "' 2>/dev/null";
    REQUIRE(std::system(openssl.c_str()) == 0);
    // Only the certificate paths change; the ports and the upstream come from flags and
    // variables, which beat the file (SPEC §9).
    for (const auto& [from, to] : {std::pair{"/etc/ld-relay/tls/relay.crt", cert.string()},
                                   std::pair{"/etc/ld-relay/tls/relay.key", key.string()}}) {
        const auto at = config.find(from);
        REQUIRE(at != std::string::npos);
        config.replace(at, std::string_view(from).size(), to);
    }
    const auto config_file = dir.write("ld-relay.conf", config);

    RecordingUpstream upstream;
    // The flag data comes from the test's upstream too: this machine cannot reach LaunchDarkly,
    // and a failed poll would add a warning the README (written for a connected host) omits.
    upstream.set_resource("/sdk/latest-all", R"({"flags":{},"segments":{}})", "\"etag-1\"");
    auto process = start_evrelay(
        {"serve", "--config", config_file.string(), "--bind", "127.0.0.1", "--port", "0"},
        {{"PROMETHEUS_PORT", "0"}, {"EVENTS_HOST", upstream.url()}, {"BASE_URI", upstream.url()}});
    ServeGuard guard(*process);
    const auto port = wait_for_listening(*process);
    // The start-up log ends with the environments line.
    CHECK(wait_for_log(*process, "environment(s); flush every"));
    const std::string log = process->stderr_text();
    INFO(log);
    REQUIRE(port != 0);

    // Every warning the README shows is logged word for word, and no other warning.
    std::size_t warnings_shown = 0;
    for (const auto& line : shown_log) {
        if (line.starts_with("evrelay: warning: ")) {
            ++warnings_shown;
            CHECK_THAT(log, Catch::Contains(line + "\n"));
        }
    }
    CHECK(warnings_shown == 4);
    std::size_t warnings_logged = 0;
    for (const auto& line : lines_of(log)) {
        warnings_logged += line.starts_with("evrelay: warning: ") ? 1 : 0;
    }
    CHECK(warnings_logged == warnings_shown);
    // The info lines, but for the addresses the test chose.
    CHECK_THAT(log, Catch::Contains("(TLS 1.2+)") &&
                        Catch::Contains("serve: Prometheus metrics on 127.0.0.1:") &&
                        Catch::Contains("serve: 1 environment(s); flush every 5s; forwarding to"));
    const auto status = send_request(
        port, {.method = "GET", .target = "/status", .https = true, .ca_file = cert.string()});
    CHECK(status.status == 200);
    CHECK_THAT(status.body, Catch::Contains("\"production\":{\"sdkKey\":\"sdk-****89ab\","
                                            "\"mobileKey\":\"mob-****89ab\",\"envId\":\"****2345\","
                                            "\"status\":\"connected\"}"));
    CHECK(guard.stop() == 0);
}
