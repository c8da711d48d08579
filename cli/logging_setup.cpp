#include "logging_setup.hpp"

#include "core/util/json_writer.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <stdexcept>

namespace evrelay {

namespace {

// Log lines for log collectors: the message is escaped as a JSON string, which spdlog's pattern
// flags cannot do.
class JsonLineFormatter : public spdlog::formatter {
  public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        const auto time = std::chrono::time_point_cast<std::chrono::milliseconds>(msg.time);
        const auto seconds = std::chrono::system_clock::to_time_t(time);
        const auto millis = time.time_since_epoch().count() % 1000;
        std::tm utc{};
        gmtime_r(&seconds, &utc);
        char stamp[64];
        std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                      utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                      utc.tm_sec, static_cast<int>(millis));
        std::string line = "{\"time\":\"";
        line += stamp;
        line += "\",\"level\":\"";
        const auto level = spdlog::level::to_string_view(msg.level);
        line.append(level.data(), level.size());
        line += "\",\"msg\":";
        util::append_json_string(line, std::string_view(msg.payload.data(), msg.payload.size()));
        line += "}\n";
        dest.append(line.data(), line.data() + line.size());
    }
    std::unique_ptr<spdlog::formatter> clone() const override {
        return std::make_unique<JsonLineFormatter>();
    }
};

} // namespace

void setup_logging(const std::string& level, const std::string& format) {
    auto logger = spdlog::stderr_color_mt("evrelay");
    if (level == "debug") {
        logger->set_level(spdlog::level::debug);
    } else if (level == "info") {
        logger->set_level(spdlog::level::info);
    } else if (level == "warn") {
        logger->set_level(spdlog::level::warn);
    } else if (level == "error") {
        logger->set_level(spdlog::level::err);
    } else {
        throw std::invalid_argument("--log-level must be debug, info, warn or error, not \"" +
                                    level + "\"");
    }
    if (format == "json") {
        logger->set_formatter(std::make_unique<JsonLineFormatter>());
    } else if (format == "text") {
        logger->set_pattern("evrelay: %^%l%$: %v");
    } else {
        throw std::invalid_argument("--log-format must be text or json, not \"" + format + "\"");
    }
    spdlog::set_default_logger(logger);
}

} // namespace evrelay
