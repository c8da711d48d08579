#include "core/util/uuid.hpp"

#include <array>
#include <cstdint>
#include <random>

namespace evrelay::util {

namespace {

std::mt19937_64& thread_generator() {
    // Seeded once per thread from several random_device words: a single 32-bit seed would make
    // collisions between threads and processes far likelier than the 122 random bits promise.
    thread_local std::mt19937_64 generator = [] {
        std::random_device device;
        std::seed_seq seed{device(), device(), device(), device(),
                           device(), device(), device(), device()};
        return std::mt19937_64(seed);
    }();
    return generator;
}

bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Canonical lower-case text of 128 bits, with the version nibble and the RFC 4122 variant set.
std::string format_uuid(std::uint64_t high, std::uint64_t low, unsigned version) {
    static constexpr char k_hex[] = "0123456789abcdef";
    std::array<std::uint8_t, 16> bytes{};
    for (int i = 0; i < 8; ++i) {
        bytes[i] = static_cast<std::uint8_t>(high >> (56 - 8 * i));
        bytes[8 + i] = static_cast<std::uint8_t>(low >> (56 - 8 * i));
    }
    bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0f) | (version << 4));
    bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3f) | 0x80); // RFC 4122 variant

    std::string out;
    out.reserve(36);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out += '-';
        }
        out += k_hex[bytes[i] >> 4];
        out += k_hex[bytes[i] & 0x0f];
    }
    return out;
}

// FNV-1a over `text` from `basis`, then splitmix64's finaliser to spread the bits.
std::uint64_t hash64(std::string_view text, std::uint64_t basis) {
    std::uint64_t h = basis;
    for (const char c : text) {
        h = (h ^ static_cast<std::uint8_t>(c)) * 0x100000001b3ULL;
    }
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

} // namespace

std::string make_uuid_v4() {
    std::mt19937_64& generator = thread_generator();
    const std::uint64_t high = generator();
    const std::uint64_t low = generator();
    return format_uuid(high, low, 4);
}

std::string make_uuid_from(std::string_view name) {
    return format_uuid(hash64(name, 0xcbf29ce484222325ULL), hash64(name, 0x84222325cbf29ce4ULL), 8);
}

bool is_uuid(std::string_view text) {
    if (text.size() != 36) {
        return false;
    }
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-') {
                return false;
            }
        } else if (!is_hex(text[i])) {
            return false;
        }
    }
    return true;
}

} // namespace evrelay::util
