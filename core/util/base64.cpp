#include "core/util/base64.hpp"

#include <array>
#include <cstdint>

namespace evrelay::util {

namespace {

constexpr std::uint8_t k_invalid = 0xFF;

constexpr std::array<std::uint8_t, 256> make_decode_table() {
    std::array<std::uint8_t, 256> table{};
    for (auto& entry : table) {
        entry = k_invalid;
    }
    constexpr std::string_view k_standard =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (std::size_t i = 0; i < k_standard.size(); ++i) {
        table[static_cast<unsigned char>(k_standard[i])] = static_cast<std::uint8_t>(i);
    }
    table[static_cast<unsigned char>('-')] = 62;
    table[static_cast<unsigned char>('_')] = 63;
    return table;
}

constexpr std::array<std::uint8_t, 256> k_decode = make_decode_table();

} // namespace

Result<std::string> decode_base64(std::string_view text) {
    // Padding is optional, but when present it must end the text and complete a quantum.
    std::size_t length = text.size();
    std::size_t padding = 0;
    while (length > 0 && text[length - 1] == '=' && padding < 2) {
        --length;
        ++padding;
    }
    if (padding > 0 && text.size() % 4 != 0) {
        return make_error(ErrorKind::invalid_input, "base64: misplaced '=' padding");
    }
    if (length % 4 == 1) {
        return make_error(ErrorKind::invalid_input, "base64: truncated input (" +
                                                        std::to_string(text.size()) +
                                                        " characters)");
    }
    std::string out;
    out.reserve(length / 4 * 3 + 2);
    std::uint32_t accumulator = 0;
    int bits = 0;
    for (std::size_t i = 0; i < length; ++i) {
        const std::uint8_t value = k_decode[static_cast<unsigned char>(text[i])];
        if (value == k_invalid) {
            return make_error(ErrorKind::invalid_input,
                              "base64: invalid character at offset " + std::to_string(i));
        }
        accumulator = (accumulator << 6) | value;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((accumulator >> bits) & 0xFF));
        }
    }
    return out;
}

std::string encode_base64(std::string_view bytes) {
    static constexpr char k_alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const std::uint32_t n =
            (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16) |
            (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8) |
            static_cast<unsigned char>(bytes[i + 2]);
        out.push_back(k_alphabet[(n >> 18) & 63]);
        out.push_back(k_alphabet[(n >> 12) & 63]);
        out.push_back(k_alphabet[(n >> 6) & 63]);
        out.push_back(k_alphabet[n & 63]);
    }
    const std::size_t rest = bytes.size() - i;
    if (rest > 0) {
        std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
        if (rest == 2) {
            n |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
        }
        out.push_back(k_alphabet[(n >> 18) & 63]);
        out.push_back(k_alphabet[(n >> 12) & 63]);
        out.push_back(rest == 2 ? k_alphabet[(n >> 6) & 63] : '=');
        out.push_back('=');
    }
    return out;
}

} // namespace evrelay::util
