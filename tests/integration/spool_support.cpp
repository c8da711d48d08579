#include "spool_support.hpp"

#include "serve_process.hpp"

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace evrelay::test {

namespace fs = std::filesystem;

std::vector<std::string> files_with_suffix(const std::string& dir, const std::string& suffix) {
    std::vector<std::string> names;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(dir, error)) {
        const std::string name = entry.path().filename().string();
        if (entry.is_regular_file() && name.size() >= suffix.size() &&
            name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
            names.push_back(name);
        }
    }
    std::sort(names.begin(), names.end());
    return names;
}

std::vector<SpooledPayload> spooled_payloads(const std::string& dir) {
    std::vector<std::string> names = files_with_suffix(dir, ".seg");
    for (auto& name : files_with_suffix(dir, ".open")) {
        names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    std::vector<SpooledPayload> payloads;
    simdjson::dom::parser parser;
    for (const auto& name : names) {
        std::ifstream in(fs::path(dir) / name);
        std::string line;
        while (std::getline(in, line)) {
            if (in.eof()) {
                break; // a torn last line
            }
            simdjson::dom::element record;
            if (parser.parse(line).get(record)) {
                continue;
            }
            SpooledPayload payload;
            payload.file = name;
            std::string_view text;
            if (!record["payloadId"].get(text)) {
                payload.payload_id = std::string(text);
            }
            if (!record["env"].get(text)) {
                payload.env = std::string(text);
            }
            simdjson::dom::array events;
            if (!record["events"].get(events)) {
                for (auto event : events) {
                    payload.events.push_back(simdjson::minify(event));
                }
            }
            payloads.push_back(std::move(payload));
        }
    }
    return payloads;
}

std::string refused_url() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    socklen_t length = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    ::close(fd); // bound, never listened: the port refuses connections
    return "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port));
}

std::map<std::string, std::vector<std::string>>
delivered_payloads(const std::vector<RecordedRequest>& requests) {
    std::map<std::string, std::vector<std::string>> payloads;
    for (const auto& request : requests) {
        if (request.status < 200 || request.status >= 300) {
            continue;
        }
        payloads[request.header("x-launchdarkly-payload-id")] = events_of(request.body);
    }
    return payloads;
}

std::vector<std::string> delivered_twice(const std::vector<RecordedRequest>& requests) {
    std::map<std::string, int> seen;
    for (const auto& request : requests) {
        if (request.status >= 200 && request.status < 300) {
            ++seen[request.header("x-launchdarkly-payload-id")];
        }
    }
    std::vector<std::string> twice;
    for (const auto& [id, count] : seen) {
        if (count > 1) {
            twice.push_back(id);
        }
    }
    return twice;
}

std::multiset<std::string> delivered_events(const std::vector<RecordedRequest>& requests) {
    std::multiset<std::string> events;
    for (const auto& [id, payload_events] : delivered_payloads(requests)) {
        events.insert(payload_events.begin(), payload_events.end());
    }
    return events;
}

DeliveryComparison compare_delivered(const std::vector<std::string>& accepted,
                                     const std::multiset<std::string>& delivered) {
    DeliveryComparison comparison;
    for (const auto& event : accepted) {
        const std::size_t times = delivered.count(event);
        comparison.missing += times == 0 ? 1 : 0;
        comparison.doubled += times > 1 ? 1 : 0;
    }
    return comparison;
}

std::vector<std::string> post_events(std::uint16_t port, const std::string& key,
                                     const std::vector<std::string>& events, std::size_t per_post) {
    std::vector<std::string> accepted;
    for (std::size_t i = 0; i < events.size(); i += per_post) {
        const std::vector<std::string> part(
            events.begin() + static_cast<long>(i),
            events.begin() + static_cast<long>(std::min(events.size(), i + per_post)));
        const auto response = http_request(
            port, "POST", "/bulk", {{"Authorization", key}, {"X-LaunchDarkly-Event-Schema", "4"}},
            as_array(part));
        if (response.status == 202) {
            accepted.insert(accepted.end(), part.begin(), part.end());
        }
    }
    return accepted;
}

void write_segment(const std::string& dir, const std::string& name,
                   const std::vector<std::string>& lines) {
    std::ofstream out(fs::path(dir) / (name + ".seg"), std::ios::binary);
    for (const auto& line : lines) {
        out << line;
    }
}

LoadClients::LoadClients(std::uint16_t port, std::string key, int threads) {
    for (int t = 0; t < threads; ++t) {
        m_threads.emplace_back([this, port, key, t] {
            for (std::size_t round = 0; !m_stop.load() && round < 2000; ++round) {
                const auto events =
                    make_events(5, (static_cast<std::size_t>(t + 1) << 20) + round * 5);
                const auto response =
                    http_request(port, "POST", "/bulk",
                                 {{"Authorization", key}, {"X-LaunchDarkly-Event-Schema", "4"}},
                                 as_array(events));
                if (response.status == 202) {
                    std::lock_guard lock(m_mutex);
                    m_accepted.insert(m_accepted.end(), events.begin(), events.end());
                } else if (response.status == 503) {
                    m_refused.fetch_add(1);
                } else if (response.status == 0) {
                    return; // the server is gone
                }
            }
        });
    }
}

LoadClients::~LoadClients() {
    stop();
}

void LoadClients::stop() {
    m_stop.store(true);
    for (auto& thread : m_threads) {
        if (thread.joinable()) {
            thread.join();
        }
    }
}

std::vector<std::string> LoadClients::accepted() {
    std::lock_guard lock(m_mutex);
    return m_accepted;
}

std::size_t LoadClients::accepted_count() {
    std::lock_guard lock(m_mutex);
    return m_accepted.size();
}

std::uint16_t listening_port(ChildProcess& serve) {
    const std::string marker = "listening on 127.0.0.1:";
    std::uint16_t port = 0;
    wait_until(
        [&] {
            const std::string err = serve.stderr_text();
            const auto at = err.find(marker);
            if (at == std::string::npos) {
                return false;
            }
            port = static_cast<std::uint16_t>(std::stoi(err.substr(at + marker.size())));
            return true;
        },
        std::chrono::seconds(10));
    return port;
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
}

} // namespace evrelay::test
