#pragma once

#include "core/util/error.hpp"

#include <string>

namespace evrelay {

// The CA bundle for --ca-cert: curl's default bundle followed by the PEM file at `extra_path`,
// as one in-memory bundle (CURLOPT_CAINFO would *replace* the default bundle, and SPEC §10 says
// --ca-cert adds a CA). Fails (ErrorKind::io) when the file cannot be read or is empty; a
// default bundle that cannot be read is left out.
Result<std::string> ca_bundle_with(const std::string& extra_path);

} // namespace evrelay
