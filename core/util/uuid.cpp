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

} // namespace

std::string make_uuid_v4() {
    static constexpr char k_hex[] = "0123456789abcdef";
    std::mt19937_64& generator = thread_generator();
    std::array<std::uint8_t, 16> bytes{};
    const std::uint64_t high = generator();
    const std::uint64_t low = generator();
    for (int i = 0; i < 8; ++i) {
        bytes[i] = static_cast<std::uint8_t>(high >> (56 - 8 * i));
        bytes[8 + i] = static_cast<std::uint8_t>(low >> (56 - 8 * i));
    }
    bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0f) | 0x40); // version 4
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
