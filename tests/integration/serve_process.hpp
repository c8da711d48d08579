#pragma once

#include "harness.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace evrelay::test {

// A running `evrelay serve --bind 127.0.0.1 --port 0 …`; the constructor waits (bounded) for the
// "serve: listening on" line and reads the port from it. The ChildProcess kills it if a test
// ends early.
class ServeProcess {
  public:
    explicit ServeProcess(const std::vector<std::string>& args,
                          std::map<std::string, std::string> env = {});
    std::uint16_t port() const { return m_port; }
    ChildProcess& process() { return *m_process; }

  private:
    std::unique_ptr<ChildProcess> m_process;
    std::uint16_t m_port = 0;
};

struct ClientResponse {
    long status = 0; // 0: no answer
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers; // names lower-cased
    std::string header(const std::string& lower_name) const;
};

// One HTTP/1.1 request to 127.0.0.1:port (libcurl), bounded to 10 s.
ClientResponse http_request(std::uint16_t port, const std::string& method,
                            const std::string& target,
                            const std::vector<std::pair<std::string, std::string>>& headers = {},
                            const std::string& body = "");

} // namespace evrelay::test
