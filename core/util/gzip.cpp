#include "core/util/gzip.hpp"

#include <libdeflate.h>

#include <algorithm>
#include <memory>
#include <new>
#include <stdexcept>

namespace evrelay::util {

namespace {

// The gzip magic followed by the only compression method in use (deflate).
constexpr unsigned char k_magic0 = 0x1f;
constexpr unsigned char k_magic1 = 0x8b;

// First guess for a member's output; grown by doubling when the member is larger.
constexpr std::size_t k_min_initial_output = 64 * 1024;
constexpr std::size_t k_initial_ratio = 4;

struct DecompressorDeleter {
    void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
};

// One decompressor per thread: allocation is not free (~32 KiB) and gunzip runs per request.
libdeflate_decompressor* thread_decompressor() {
    thread_local std::unique_ptr<libdeflate_decompressor, DecompressorDeleter> decompressor(
        libdeflate_alloc_decompressor());
    if (!decompressor) {
        throw std::bad_alloc();
    }
    return decompressor.get();
}

} // namespace

GzipCompressor::GzipCompressor(int level) : m_compressor(nullptr), m_level(level) {
    if (level < 0 || level > 12) {
        throw std::invalid_argument("gzip level must be 0..12, got " + std::to_string(level));
    }
    m_compressor = libdeflate_alloc_compressor(level);
    if (m_compressor == nullptr) {
        throw std::bad_alloc();
    }
}

GzipCompressor::~GzipCompressor() {
    libdeflate_free_compressor(m_compressor);
}

void GzipCompressor::compress(std::string_view in, std::string& out) {
    const std::size_t bound = libdeflate_gzip_compress_bound(m_compressor, in.size());
    out.resize(bound);
    const std::size_t size =
        libdeflate_gzip_compress(m_compressor, in.data(), in.size(), out.data(), out.size());
    if (size == 0) {
        // Cannot happen with a buffer of compress_bound bytes.
        throw std::logic_error("libdeflate_gzip_compress failed within its own bound");
    }
    out.resize(size);
}

Result<std::string> gunzip(std::string_view in, std::size_t max_output_bytes) {
    if (!looks_gzipped(in)) {
        return make_error(ErrorKind::invalid_input, "not gzip data (no gzip header)");
    }
    libdeflate_decompressor* decompressor = thread_decompressor();

    std::string out;
    std::size_t produced = 0;
    std::size_t consumed = 0;
    std::size_t member = 0;
    while (consumed < in.size()) {
        const std::string_view rest = in.substr(consumed);
        if (!looks_gzipped(rest)) {
            return make_error(ErrorKind::invalid_input,
                              "trailing data after gzip member " + std::to_string(member));
        }
        ++member;
        const std::size_t room = max_output_bytes - produced;
        const std::size_t guess =
            (rest.size() > room / k_initial_ratio)
                ? room
                : std::max(k_min_initial_output, rest.size() * k_initial_ratio);
        std::size_t capacity = std::min(room, guess);
        // libdeflate decompresses a member in one call, so a member that does not fit is
        // decompressed again into a larger buffer; doubling keeps the total work linear.
        for (;;) {
            out.resize(produced + capacity);
            std::size_t in_used = 0;
            std::size_t out_used = 0;
            const libdeflate_result result =
                libdeflate_gzip_decompress_ex(decompressor, rest.data(), rest.size(),
                                              out.data() + produced, capacity, &in_used, &out_used);
            if (result == LIBDEFLATE_SUCCESS) {
                produced += out_used;
                consumed += in_used;
                break;
            }
            if (result == LIBDEFLATE_INSUFFICIENT_SPACE) {
                if (capacity >= room) {
                    return make_error(ErrorKind::too_large, "decompressed data exceeds " +
                                                                std::to_string(max_output_bytes) +
                                                                " bytes");
                }
                capacity = (capacity > room / 2) ? room : capacity * 2;
                continue;
            }
            return make_error(ErrorKind::invalid_input,
                              "corrupt gzip data in member " + std::to_string(member));
        }
    }
    out.resize(produced);
    return out;
}

bool looks_gzipped(std::string_view data) {
    return data.size() >= 2 && static_cast<unsigned char>(data[0]) == k_magic0 &&
           static_cast<unsigned char>(data[1]) == k_magic1;
}

} // namespace evrelay::util
