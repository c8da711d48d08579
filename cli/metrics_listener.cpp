#include "metrics_listener.hpp"

#include <spdlog/spdlog.h>

#include <exception>
#include <utility>

namespace evrelay {

MetricsListener::MetricsListener(HttpServerOptions options, InboundHandler& handler)
    : m_server(std::move(options), [&handler](HttpRequest&& request) {
          return handler.handle_metrics_only(std::move(request));
      }) {}

Result<std::unique_ptr<MetricsListener>> MetricsListener::start(const std::string& bind, int port,
                                                                InboundHandler& handler) {
    HttpServerOptions options;
    options.bind = bind;
    options.port = static_cast<std::uint16_t>(port);
    options.threads = 1;
    options.max_connections = 64; // scrapers, not SDKs
    std::unique_ptr<MetricsListener> listener(new MetricsListener(std::move(options), handler));
    const auto bound = listener->m_server.listen();
    if (!bound) {
        return tl::unexpected(bound.error());
    }
    listener->m_port = *bound;
    MetricsListener* self = listener.get();
    listener->m_thread = std::thread([self] {
        try {
            self->m_server.run();
        } catch (const std::exception& error) {
            // A broken invariant in the metrics port must not take the event port down with it.
            spdlog::error("serve: Prometheus listener stopped: {}", error.what());
        }
    });
    return listener;
}

void MetricsListener::stop() {
    if (m_thread.joinable()) {
        m_server.stop();
        m_thread.join();
    }
}

MetricsListener::~MetricsListener() {
    stop();
}

} // namespace evrelay
