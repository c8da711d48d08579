#pragma once

#include <string>
#include <string_view>

namespace evrelay::util {

// `text` with the userinfo of every URL in it masked: "http://relay:s3cret@proxy:3128" becomes
// "http://****@proxy:3128" (SPEC §9: a proxy password, or any credential written into a URL,
// never appears in a log line). Everything between a "://" and the last "@" before the next
// "://", line break or the end of `text` is replaced, so a password that was written unencoded
// (with "@", "/", ":" or a space in it) is masked whole; the price is that an unrelated "@" later
// on the same line masks a little more than the userinfo. Text without "://…@" comes back as it
// was. Use it on every URL that is logged or printed (events URI, proxy URL, libcurl's error
// text, which may quote a URL).
std::string mask_url_credentials(std::string_view text);

} // namespace evrelay::util
