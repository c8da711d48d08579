#include "core/config/ignored_settings.hpp"

#include <catch2/catch.hpp>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <set>

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

    // Without the end of line the formatter adds.
    std::vector<std::string> lines() const {
        auto lines = m_sink->last_formatted();
        for (auto& line : lines) {
            while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
                line.pop_back();
            }
        }
        return lines;
    }

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
    CHECK(lines[0] == "warning|config: ignored ([Events] inlineUsers): " +
                          std::string(describe(IgnoredBecause::inline_users)));
}

TEST_CASE("EVENTS_INLINE_USERS set to true is warned about as ignored", "[config]") {
    const auto config = relay_config_from_environment(
        {"EVENTS_INLINE_USERS"}, [](const std::string& name) -> std::optional<std::string> {
            return name == "EVENTS_INLINE_USERS" ? std::optional<std::string>("1") : std::nullopt;
        });
    REQUIRE(config);
    LogCapture capture;
    warn_about_ignored_settings(*config);
    const auto lines = capture.lines();
    REQUIRE(lines.size() == 1);
    CHECK_THAT(lines[0], Catch::StartsWith("warning|config: ignored (EVENTS_INLINE_USERS): "));
}

TEST_CASE("booleans set to false, and honoured settings, produce no warning", "[config]") {
    for (const auto* text : {"[Events]\ninlineUsers = false\n", "[Events]\ncapacity = 5\n", "",
                             "[Main]\nexitOnError = false\nexitAlways = 0\n",
                             "[Redis]\ntls = false\n[DynamoDB]\nenabled = false\n"}) {
        INFO(text);
        const auto config = parse_ok(text);
        CHECK(ignored_settings(config).empty());
        LogCapture capture;
        warn_about_ignored_settings(config);
        CHECK(capture.lines().empty());
    }
}

TEST_CASE("ignored settings: one line per reason, naming each setting as given", "[config]") {
    auto config = parse_ok(R"([Main]
heartbeatInterval = 1m
exitOnError = true
streamUri = https://stream.example.com
[Redis]
url = redis://redis:6379
[Environment "prod"]
sdkKey = sdk-1
prefix = ld
[Datadog]
enabled = true
[Mian]
port = 1
)");
    const auto variables =
        relay_config_from_environment({"REDIS_PASSWORD", "LD_TTL_prod"},
                                      [](const std::string& name) -> std::optional<std::string> {
                                          if (name == "REDIS_PASSWORD" || name == "LD_TTL_prod") {
                                              return "x";
                                          }
                                          return std::nullopt;
                                      });
    REQUIRE(variables);
    config = merge_relay_config(config, *variables);
    const auto lines = ignored_settings(config);
    const std::vector<std::string> expected = {
        "ignored ([Main] heartbeatInterval, [Main] streamUri, LD_TTL_prod): " +
            std::string(describe(IgnoredBecause::flag_delivery)),
        "ignored ([Main] exitOnError): " + std::string(describe(IgnoredBecause::exit_on_error)),
        "ignored ([Redis] url, [Environment \"prod\"] prefix, REDIS_PASSWORD): " +
            std::string(describe(IgnoredBecause::data_store)),
        "ignored ([Datadog] enabled): " + std::string(describe(IgnoredBecause::exporter)),
        "ignored ([Mian]): " + std::string(describe(IgnoredBecause::unknown)),
    };
    CHECK(lines == expected);
}

TEST_CASE("every reason has its own sentence", "[config]") {
    std::set<std::string_view> sentences;
    for (int i = static_cast<int>(IgnoredBecause::flag_delivery);
         i <= static_cast<int>(IgnoredBecause::unknown); ++i) {
        const auto sentence = describe(static_cast<IgnoredBecause>(i));
        INFO(i << ": " << sentence);
        CHECK(sentence.size() > 20);
        CHECK(sentences.insert(sentence).second);
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
