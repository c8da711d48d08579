#pragma once

#include <string>
#include <string_view>

namespace evrelay::util {

// A random (version 4) UUID in lower-case canonical form, as the SDKs send payload IDs.
// Thread-safe; each thread has its own generator seeded from std::random_device.
std::string make_uuid_v4();

// A UUID determined by `name` (version 8, RFC 9562: the 122 free bits are two 64-bit hashes of
// the name). Not cryptographic: for IDs that must come out the same when the same thing is done
// again, such as the halves of a payload split after a 413.
std::string make_uuid_from(std::string_view name);

// True for the canonical 8-4-4-4-12 hex form, in either case; any version or variant.
bool is_uuid(std::string_view text);

} // namespace evrelay::util
