#include "core/config/ignored_settings.hpp"

#include <catch2/catch.hpp>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <memory>

using namespace evrelay;

namespace {

// Routes the default spdlog logger into a ring buffer for the duration of a test; each line is
// "LEVEL|message".
class LogCapture {
  public:
    LogCapture()
        : m_sink(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64)),
          m_previous(spdlog::default_logger()) {
        m_sink->set_pattern("%l|%v");
        auto logger = std::make_shared<spdlog::logger>("ignored-settings-test", m_sink);
        logger->set_level(spdlog::level::trace);
        spdlog::set_default_logger(logger);
    }
    ~LogCapture() { spdlog::set_default_logger(m_previous); }
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;

    std::vector<std::string> lines() const { return m_sink->last_formatted(); }

  private:
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> m_sink;
    std::shared_ptr<spdlog::logger> m_previous;
};

RelayConfig parse_ok(std::string_view text) {
    auto config = parse_relay_config(text, "test.conf");
    if (!config) {
        FAIL("unexpected error: " << config.error().message);
    }
    return *config;
}

} // namespace

TEST_CASE("inlineUsers set to true is warned about once as ignored", "[config]") {
    const auto config = parse_ok("[Events]\ninlineUsers = true\n");
    LogCapture capture;
    warn_about_ignored_settings(config);
    const auto lines = capture.lines();
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].rfind("warning|config: [Events] inlineUsers (EVENTS_INLINE_USERS) is ignored",
                         0) == 0);
}

TEST_CASE("EVENTS_INLINE_USERS set to true is warned about as ignored", "[config]") {
    const auto config = relay_config_from_environment(
        {"EVENTS_INLINE_USERS"},
        [](const std::string&) -> std::optional<std::string> { return "1"; });
    REQUIRE(config);
    LogCapture capture;
    warn_about_ignored_settings(*config);
    const auto lines = capture.lines();
    REQUIRE(lines.size() == 1);
    CHECK_THAT(lines[0], Catch::StartsWith("warning|") && Catch::Contains("inlineUsers"));
}

TEST_CASE("inlineUsers false or unset produces no warning", "[config]") {
    for (const auto* text : {"[Events]\ninlineUsers = false\n", "[Events]\ncapacity = 5\n", ""}) {
        INFO(text);
        const auto config = parse_ok(text);
        CHECK(ignored_settings(config).empty());
        LogCapture capture;
        warn_about_ignored_settings(config);
        CHECK(capture.lines().empty());
    }
}

TEST_CASE("proxy credentials without a proxy URL are warned about as ignored", "[config]") {
    for (const auto* text : {"[Proxy]\nuser = relay\n", "[Proxy]\npassword = \"p w\"\n",
                             "[Proxy]\ndomain = CORP\nntlmAuth = true\n"}) {
        INFO(text);
        const auto ignored = ignored_settings(parse_ok(text));
        REQUIRE(ignored.size() == 1);
        CHECK_THAT(ignored[0], Catch::StartsWith("[Proxy] user, password and domain"));
        CHECK_THAT(ignored[0], !Catch::Contains("p w"));
    }
}

TEST_CASE("a proxy domain without ntlmAuth is warned about as ignored", "[config]") {
    const auto ignored =
        ignored_settings(parse_ok("[Proxy]\nurl = http://proxy:3128\ndomain = CORP\n"));
    REQUIRE(ignored.size() == 1);
    CHECK_THAT(ignored[0], Catch::StartsWith("[Proxy] domain (PROXY_AUTH_DOMAIN) is ignored"));
    CHECK(ignored_settings(parse_ok("[Proxy]\nurl = http://proxy:3128\nuser = u\npassword = p\n"
                                    "domain = CORP\nntlmAuth = true\n"))
              .empty());
}
