#pragma once

#include "tests/support/scratch_dir.hpp"

#include <filesystem>

namespace evrelay::test {

// A private CA and a server certificate it signed for 127.0.0.1 and localhost, plus a second,
// unrelated CA: made with the openssl command line into a scratch directory at test time (EC
// keys, valid one day), so no key material lives in the repository.
struct TestCertificates {
    std::filesystem::path ca;       // the CA that signed `server_certificate`
    std::filesystem::path other_ca; // a CA that signed nothing here
    std::filesystem::path server_certificate;
    std::filesystem::path server_key;
};

// Throws std::runtime_error when openssl fails.
TestCertificates make_test_certificates(const ScratchDir& dir);

} // namespace evrelay::test
