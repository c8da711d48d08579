#pragma once

#include "core/util/error.hpp"

#include <string>
#include <vector>

namespace evrelay {

// The CA bundle when CA files are added (--ca-cert, or every [Proxy] caCertFiles /
// PROXY_CA_CERTS entry): libcurl's default bundle followed by each file, as one in-memory PEM
// bundle, trusted for the upstream and for an HTTPS proxy. CURLOPT_CAINFO would *replace* the
// default bundle; Relay adds each file to a copy of the system's pool, and SPEC §10 says
// --ca-cert adds a CA. Fails (ErrorKind::config) naming the file when one cannot be read or holds
// no PEM certificate, as Relay refuses to start then; a default bundle that cannot be read is
// left out.
Result<std::string> ca_bundle_with(const std::vector<std::string>& extra_paths);

} // namespace evrelay
