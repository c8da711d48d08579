#include "core/upstream/proxy_settings.hpp"

#include "core/util/percent_decode.hpp"
#include "core/util/url_mask.hpp"

#include <memory>

namespace evrelay {

namespace {

constexpr std::string_view k_scheme_end = "://";

struct UrlCredentials {
    std::string url; // without the userinfo
    std::string user;
    std::string password;
};

// Takes the userinfo out of a proxy URL. A proxy URL has no use for a path, so the userinfo runs
// to the last "@": a password written unencoded, "/" and "@" included, is still taken whole.
UrlCredentials split_url_credentials(const std::string& url) {
    const std::size_t scheme_end = url.find(k_scheme_end);
    const std::size_t authority =
        scheme_end == std::string::npos ? 0 : scheme_end + k_scheme_end.size();
    const std::size_t at = url.rfind('@');
    if (at == std::string::npos || at < authority) {
        return {url, {}, {}};
    }
    const std::string_view userinfo = std::string_view(url).substr(authority, at - authority);
    const std::size_t colon = userinfo.find(':');
    UrlCredentials split;
    split.url = url.substr(0, authority) + url.substr(at + 1);
    split.user = util::percent_decode(userinfo.substr(0, colon));
    if (colon != std::string_view::npos) {
        split.password = util::percent_decode(userinfo.substr(colon + 1));
    }
    return split;
}

struct UrlCleanup {
    void operator()(CURLU* url) const { curl_url_cleanup(url); }
};

// libcurl parses CURLOPT_PROXY only when a transfer starts; parsing it here, the way libcurl
// will (a missing scheme means http://, any scheme is accepted), turns a typo into an error at
// start-up.
Result<void> check_url(const std::string& url, const std::string& as_written) {
    const std::unique_ptr<CURLU, UrlCleanup> handle(curl_url());
    if (!handle) {
        return make_error(ErrorKind::io, "curl_url: out of memory");
    }
    const CURLUcode parsed = curl_url_set(handle.get(), CURLUPART_URL, url.c_str(),
                                          CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME);
    if (parsed != CURLUE_OK) {
        return make_error(ErrorKind::config, "proxy URL \"" +
                                                 util::mask_url_credentials(as_written) +
                                                 "\" cannot be used: " + curl_url_strerror(parsed));
    }
    return {};
}

} // namespace

Result<CurlProxy> curl_proxy_for(const OutboundProxy& proxy) {
    if (proxy.url.empty()) {
        if (proxy.ntlm) {
            return make_error(ErrorKind::config, "NTLM proxy authentication needs a proxy URL");
        }
        return CurlProxy{};
    }
    UrlCredentials split = split_url_credentials(proxy.url);
    if (Result<void> checked = check_url(split.url, proxy.url); !checked) {
        return tl::unexpected(checked.error());
    }
    CurlProxy curl;
    curl.url = std::move(split.url);
    const std::string& user = proxy.user.empty() ? split.user : proxy.user;
    curl.password = proxy.password.empty() ? split.password : proxy.password;
    if (proxy.ntlm) {
        if (user.empty() || curl.password.empty()) {
            return make_error(ErrorKind::config,
                              "NTLM proxy authentication needs a user and a password ([Proxy] "
                              "user and password, or PROXY_AUTH_USER and PROXY_AUTH_PASSWORD)");
        }
        curl.username = proxy.domain.empty() ? user : proxy.domain + "\\" + user;
        curl.auth = CURLAUTH_NTLM;
        return curl;
    }
    if (user.empty() && curl.password.empty()) {
        return curl;
    }
    curl.username = user;
    // Basic alone: libcurl then sends the credentials with the first request, as Relay does
    // (Go's proxy support is Basic, pre-emptive), instead of waiting for a 407 to pick a method.
    curl.auth = CURLAUTH_BASIC;
    return curl;
}

Result<void> apply_curl_proxy(CURL* easy, const CurlProxy& proxy) {
    CURLcode set = CURLE_OK;
    if (!proxy.url.empty()) {
        set = curl_easy_setopt(easy, CURLOPT_PROXY, proxy.url.c_str());
    }
    if (set == CURLE_OK && proxy.auth != 0) {
        set = curl_easy_setopt(easy, CURLOPT_PROXYUSERNAME, proxy.username.c_str());
        if (set == CURLE_OK) {
            set = curl_easy_setopt(easy, CURLOPT_PROXYPASSWORD, proxy.password.c_str());
        }
        if (set == CURLE_OK) {
            set = curl_easy_setopt(easy, CURLOPT_PROXYAUTH, proxy.auth);
        }
    }
    if (set != CURLE_OK) {
        return make_error(ErrorKind::config, std::string("proxy settings refused by libcurl: ") +
                                                 curl_easy_strerror(set));
    }
    return {};
}

std::string describe_proxy(const OutboundProxy& proxy) {
    if (proxy.url.empty()) {
        return "(libcurl's choice from HTTPS_PROXY, http_proxy or ALL_PROXY)";
    }
    return util::mask_url_credentials(proxy.url);
}

} // namespace evrelay
