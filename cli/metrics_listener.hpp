#pragma once

#include "core/inbound/inbound_handler.hpp"
#include "core/server/http_server.hpp"
#include "core/util/error.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

namespace evrelay {

// [Prometheus] enabled: GET /metrics on a port of its own (Relay's default 8031), plain HTTP, as
// Relay serves its Prometheus exporter; the main port keeps its /metrics. One server thread of
// its own, so a scrape never waits for SDK traffic. stop() (or the destructor) closes the port
// and joins the thread; destroy it before the handler.
class MetricsListener {
  public:
    // Binds bind:port (0 = any free port); the error names the step and the address.
    static Result<std::unique_ptr<MetricsListener>> start(const std::string& bind, int port,
                                                          InboundHandler& handler);
    ~MetricsListener();
    MetricsListener(const MetricsListener&) = delete;
    MetricsListener& operator=(const MetricsListener&) = delete;

    std::uint16_t port() const { return m_port; }
    void stop();

  private:
    MetricsListener(HttpServerOptions options, InboundHandler& handler);

    HttpServer m_server;
    std::uint16_t m_port = 0;
    std::thread m_thread;
};

} // namespace evrelay
