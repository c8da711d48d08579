#include "core/upstream/ca_bundle.hpp"

#include "core/upstream/curl_handles.hpp"

#include <curl/curl.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sstream>

namespace evrelay {

namespace {

Result<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return make_error(ErrorKind::config,
                          "CA file " + path + ": cannot be read (" + std::strerror(errno) + ")");
    }
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

struct BioFree {
    void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
    void operator()(X509* certificate) const { X509_free(certificate); }
};

// How many PEM certificates `pem` holds, read as OpenSSL will read the bundle.
std::size_t count_certificates(const std::string& pem) {
    const std::unique_ptr<BIO, BioFree> bio(
        BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    std::size_t count = 0;
    while (bio) {
        const std::unique_ptr<X509, X509Free> certificate(
            PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
        if (!certificate) {
            break;
        }
        ++count;
    }
    ERR_clear_error(); // the end of the data reads as an error; it is none
    return count;
}

} // namespace

Result<std::string> ca_bundle_with(const std::vector<std::string>& extra_paths) {
    std::string bundle;
    const EasyHandle probe(curl_easy_init());
    char* default_path = nullptr;
    if (probe && curl_easy_getinfo(probe.get(), CURLINFO_CAINFO, &default_path) == CURLE_OK &&
        default_path != nullptr) {
        bundle = read_file(default_path).value_or(std::string());
    }
    for (const std::string& path : extra_paths) {
        Result<std::string> extra = read_file(path);
        if (!extra) {
            return extra;
        }
        if (count_certificates(*extra) == 0) {
            return make_error(ErrorKind::config, "CA file " + path + ": no PEM certificate in it");
        }
        if (!bundle.empty() && bundle.back() != '\n') {
            bundle.push_back('\n');
        }
        bundle += *extra;
    }
    return bundle;
}

} // namespace evrelay
