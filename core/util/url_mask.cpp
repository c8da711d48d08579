#include "core/util/url_mask.hpp"

#include <algorithm>

namespace evrelay::util {

namespace {

constexpr std::string_view k_scheme_end = "://";
constexpr std::string_view k_mask = "****";

} // namespace

std::string mask_url_credentials(std::string_view text) {
    std::string masked;
    masked.reserve(text.size());
    std::size_t copied = 0;
    for (std::size_t scheme_end = text.find(k_scheme_end); scheme_end != std::string_view::npos;
         scheme_end = text.find(k_scheme_end, copied)) {
        const std::size_t authority = scheme_end + k_scheme_end.size();
        // The URL's userinfo can reach no further than the next URL or the end of the line.
        const std::size_t limit =
            std::min(text.find(k_scheme_end, authority), text.find_first_of("\r\n", authority));
        const std::string_view candidate =
            text.substr(authority, limit == std::string_view::npos ? limit : limit - authority);
        const std::size_t at = candidate.rfind('@');
        masked.append(text.substr(copied, authority - copied));
        copied = authority;
        if (at != std::string_view::npos) {
            masked.append(k_mask);
            copied = authority + at; // from the "@" on
        }
    }
    masked.append(text.substr(copied));
    return masked;
}

} // namespace evrelay::util
