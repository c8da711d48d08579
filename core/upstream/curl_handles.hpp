#pragma once

#include <curl/curl.h>

#include <memory>

namespace evrelay {

// Owners of libcurl's handles: each is cleaned up exactly once, by whoever holds it last.

struct EasyCleanup {
    void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};
using EasyHandle = std::unique_ptr<CURL, EasyCleanup>;

// Easy handles must be removed from a multi handle before either is cleaned up.
struct MultiCleanup {
    void operator()(CURLM* multi) const { curl_multi_cleanup(multi); }
};
using MultiHandle = std::unique_ptr<CURLM, MultiCleanup>;

} // namespace evrelay
