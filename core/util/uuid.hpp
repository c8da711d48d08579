#pragma once

#include <string>
#include <string_view>

namespace evrelay::util {

// A random (version 4) UUID in lower-case canonical form, as the SDKs send payload IDs.
// Thread-safe; each thread has its own generator seeded from std::random_device.
std::string make_uuid_v4();

// True for the canonical 8-4-4-4-12 hex form, in either case; any version or variant.
bool is_uuid(std::string_view text);

} // namespace evrelay::util
