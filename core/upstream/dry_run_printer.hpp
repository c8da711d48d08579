#pragma once

#include "core/model/environment.hpp"
#include "core/model/payload.hpp"
#include "core/upstream/upstream_request.hpp"

#include <cstdint>
#include <cstdio>
#include <mutex>

namespace evrelay {

// A PayloadSink for --dry-run: writes each payload as the HTTP request that would be sent —
// request line, headers (credentials masked), a blank line, the body (always shown uncompressed,
// even when Content-Encoding: gzip would be applied), a blank line — and sends nothing.
// Thread-safe.
class DryRunPrinter : public PayloadSink {
  public:
    DryRunPrinter(std::FILE* out, const EnvironmentTable& environments,
                  UpstreamRequestOptions options);

    void submit(Payload payload) override;

    std::uint64_t payloads() const;
    std::uint64_t events() const;
    // Payloads whose environment has no credential for their SDK kind (printed with a comment).
    std::uint64_t without_credential() const;

  private:
    std::FILE* m_out;
    const EnvironmentTable& m_environments;
    UpstreamRequestOptions m_options;
    mutable std::mutex m_mutex;
    std::uint64_t m_payloads = 0;
    std::uint64_t m_events = 0;
    std::uint64_t m_without_credential = 0;
};

} // namespace evrelay
