#include "core/upstream/dry_run_printer.hpp"

#include "core/model/credential.hpp"
#include "core/util/url_mask.hpp"

#include <string>

namespace evrelay {

DryRunPrinter::DryRunPrinter(std::FILE* out, const EnvironmentTable& environments,
                             UpstreamRequestOptions options)
    : m_out(out), m_environments(environments), m_options(std::move(options)) {}

void DryRunPrinter::submit(Payload payload) {
    std::string text;
    text.reserve(payload.body.size() + 512);
    const auto environment = m_environments.find_by_name(payload.env_name);
    const Result<UpstreamRequest> request =
        environment ? describe_upstream_request(payload, *environment, m_options)
                    : Result<UpstreamRequest>(make_error(
                          ErrorKind::config, "no environment named " + payload.env_name));
    bool missing_credential = false;
    if (request) {
        text += "POST ";
        text += util::mask_url_credentials(request->url); // as credentials are masked below
        text += '\n';
        for (const auto& [name, value] : request->headers) {
            text += name;
            text += ": ";
            // SPEC §10: credentials are masked everywhere they are printed.
            text += name == "Authorization" ? mask_credential(value) : value;
            text += '\n';
        }
    } else {
        missing_credential = true;
        text += "# not sendable: environment \"" + payload.env_name + "\" has no " +
                std::string(to_string(credential_kind_for(payload.sdk))) + "\n";
        text += "POST " + upstream_path(payload.sdk, payload.data, "{envId}") + '\n';
    }
    // Not a header: the body below is shown uncompressed whatever Content-Encoding says.
    text += "# " + std::to_string(payload.event_count) + " events, " +
            std::to_string(payload.body.size()) + " bytes uncompressed\n\n";
    text += payload.body;
    text += "\n\n";

    std::lock_guard lock(m_mutex);
    std::fwrite(text.data(), 1, text.size(), m_out);
    ++m_payloads;
    m_events += payload.event_count;
    if (missing_credential) {
        ++m_without_credential;
    }
}

std::uint64_t DryRunPrinter::payloads() const {
    std::lock_guard lock(m_mutex);
    return m_payloads;
}

std::uint64_t DryRunPrinter::events() const {
    std::lock_guard lock(m_mutex);
    return m_events;
}

std::uint64_t DryRunPrinter::without_credential() const {
    std::lock_guard lock(m_mutex);
    return m_without_credential;
}

} // namespace evrelay
