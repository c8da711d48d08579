#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace evrelay::test {

// A real HTTP proxy on 127.0.0.1 and an ephemeral port that wants Basic credentials, for tests
// of the outbound proxy: CONNECT tunnels (https:// upstreams) and plain forwarding (http://
// upstreams, one request per connection), to 127.0.0.1 only. A request without the right
// Proxy-Authorization is answered 407 with a Basic challenge, and its connection closed. Thread
// per connection; the destructor shuts every connection down and joins.
class AuthProxy {
  public:
    // Wants "Basic base64(user:password)"; with both empty, lets everything through.
    AuthProxy(const std::string& user, const std::string& password);
    ~AuthProxy();
    AuthProxy(const AuthProxy&) = delete;
    AuthProxy& operator=(const AuthProxy&) = delete;

    std::uint16_t port() const;
    std::string url() const; // "http://127.0.0.1:<port>"

    std::size_t tunnels() const;   // CONNECTs let through
    std::size_t forwarded() const; // plain requests let through
    std::size_t refused() const;   // requests answered 407
    // The Proxy-Authorization of every request, in arrival order ("" when it had none).
    std::vector<std::string> authorizations() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace evrelay::test
