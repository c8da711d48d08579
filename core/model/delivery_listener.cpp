#include "core/model/delivery_listener.hpp"

#include "core/model/credential.hpp"

namespace evrelay {

std::string_view to_string(Undeliverable reason) {
    switch (reason) {
    case Undeliverable::retries_exhausted:
        return "retries_exhausted";
    case Undeliverable::rejected:
        return "rejected";
    case Undeliverable::proxy_rejected:
        return "proxy_rejected";
    case Undeliverable::disabled:
        return "disabled";
    case Undeliverable::no_credential:
        return "no_credential";
    case Undeliverable::too_large:
        return "too_large";
    case Undeliverable::shutdown:
        return "shutdown";
    }
    return "unknown";
}

DropReason drop_reason_for(Undeliverable reason) {
    switch (reason) {
    case Undeliverable::retries_exhausted:
        return DropReason::retries_exhausted;
    case Undeliverable::rejected:
    case Undeliverable::proxy_rejected:
    case Undeliverable::disabled:
    case Undeliverable::no_credential:
        return DropReason::rejected;
    case Undeliverable::too_large:
        return DropReason::too_large;
    case Undeliverable::shutdown:
        return DropReason::shutdown;
    }
    return DropReason::shutdown;
}

bool is_credential_problem(Undeliverable reason) {
    return reason == Undeliverable::rejected || reason == Undeliverable::proxy_rejected ||
           reason == Undeliverable::disabled || reason == Undeliverable::no_credential;
}

std::string describe_credential_problem(const Payload& payload, Undeliverable reason,
                                        long last_status) {
    if (reason == Undeliverable::proxy_rejected) {
        // Not the environment's fault: every environment goes through the same proxy.
        return "the proxy answered " + std::to_string(last_status) +
               " (Proxy Authentication Required): it refused the proxy credentials";
    }
    if (reason == Undeliverable::no_credential) {
        return "environment \"" + payload.env_name + "\" has no " +
               std::string(to_string(credential_kind_for(payload.sdk)));
    }
    return "upstream answered " + std::to_string(last_status) + " for environment \"" +
           payload.env_name + "\" (" + std::string(to_string(payload.sdk)) + ")";
}

} // namespace evrelay
