#pragma once

#include <string>

namespace evrelay::util {

// A random (version 4) UUID in lower-case canonical form, as the SDKs send payload IDs.
// Thread-safe; each thread has its own generator seeded from std::random_device.
std::string make_uuid_v4();

bool is_uuid(std::string_view text);

} // namespace evrelay::util
