#include "tests/support/test_certificates.hpp"

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace evrelay::test {

namespace {

std::string quoted(const std::filesystem::path& path) {
    return "'" + path.string() + "'";
}

void run(const std::string& command) {
    if (std::system((command + " 2>/dev/null").c_str()) != 0) {
        throw std::runtime_error("openssl failed: " + command);
    }
}

constexpr const char* k_ec_key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

// A self-signed CA certificate (OpenSSL's req -x509 marks it CA:TRUE).
void make_ca(const std::filesystem::path& certificate, const std::filesystem::path& key,
             const std::string& name) {
    run(std::string("openssl req -x509 ") + k_ec_key + " -days 1 -subj /CN=" + name + " -keyout " +
        quoted(key) + " -out " + quoted(certificate));
}

} // namespace

TestCertificates make_test_certificates(const ScratchDir& dir) {
    TestCertificates made;
    made.ca = dir / "test-ca.pem";
    made.other_ca = dir / "other-ca.pem";
    made.server_certificate = dir / "server.pem";
    made.server_key = dir / "server.key";
    const auto ca_key = dir / "test-ca.key";
    const auto request = dir / "server.csr";
    const auto extensions = dir.write("server.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1\n");

    make_ca(made.ca, ca_key, "evrelay-test-ca");
    make_ca(made.other_ca, dir / "other-ca.key", "evrelay-other-ca");
    run(std::string("openssl req ") + k_ec_key + " -subj /CN=localhost -keyout " +
        quoted(made.server_key) + " -out " + quoted(request));
    run("openssl x509 -req -days 1 -in " + quoted(request) + " -CA " + quoted(made.ca) +
        " -CAkey " + quoted(ca_key) + " -CAcreateserial -extfile " + quoted(extensions) + " -out " +
        quoted(made.server_certificate));
    return made;
}

} // namespace evrelay::test
