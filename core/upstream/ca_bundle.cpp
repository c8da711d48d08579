#include "core/upstream/ca_bundle.hpp"

#include "core/upstream/curl_handles.hpp"

#include <curl/curl.h>

#include <fstream>
#include <sstream>

namespace evrelay {

namespace {

Result<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return make_error(ErrorKind::io, "cannot read " + path);
    }
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

} // namespace

Result<std::string> ca_bundle_with(const std::string& extra_path) {
    Result<std::string> extra = read_file(extra_path);
    if (!extra) {
        return extra;
    }
    if (extra->empty()) {
        return make_error(ErrorKind::io, extra_path + " is empty");
    }
    std::string bundle;
    const EasyHandle probe(curl_easy_init());
    char* default_path = nullptr;
    if (probe && curl_easy_getinfo(probe.get(), CURLINFO_CAINFO, &default_path) == CURLE_OK &&
        default_path != nullptr) {
        bundle = read_file(default_path).value_or(std::string());
    }
    if (!bundle.empty() && bundle.back() != '\n') {
        bundle.push_back('\n');
    }
    return bundle + *extra;
}

} // namespace evrelay
