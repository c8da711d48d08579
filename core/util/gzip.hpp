#pragma once

#include "core/util/error.hpp"

#include <cstddef>
#include <string>
#include <string_view>

// Declared at global scope so that <libdeflate.h> stays out of this header.
struct libdeflate_compressor;

namespace evrelay::util {

// Whole-buffer gzip with libdeflate. One compressor per thread: the objects are not
// thread-safe but are cheap to keep and reuse.
class GzipCompressor {
  public:
    explicit GzipCompressor(int level = 6);
    ~GzipCompressor();
    GzipCompressor(const GzipCompressor&) = delete;
    GzipCompressor& operator=(const GzipCompressor&) = delete;

    // Replaces `out` with the gzip member for `in`.
    void compress(std::string_view in, std::string& out);
    int level() const { return m_level; }

  private:
    ::libdeflate_compressor* m_compressor;
    int m_level;
};

// Decompresses a whole gzip buffer (all members); fails with ErrorKind::too_large when the
// output would exceed `max_output_bytes`, and ErrorKind::invalid_input when the data is not gzip.
Result<std::string> gunzip(std::string_view in, std::size_t max_output_bytes);

bool looks_gzipped(std::string_view data);

} // namespace evrelay::util
