#include "core/util/url_mask.hpp"

#include <catch2/catch.hpp>

using evrelay::util::mask_url_credentials;

TEST_CASE("util::mask_url_credentials masks the userinfo of a URL", "[util]") {
    CHECK(mask_url_credentials("http://relay:s3cret@proxy:3128") == "http://****@proxy:3128");
    CHECK(mask_url_credentials("http://relay@proxy:3128/") == "http://****@proxy:3128/");
    CHECK(mask_url_credentials("https://u:p%40ss@events.example.com/bulk") ==
          "https://****@events.example.com/bulk");
    // Written unencoded, as users do: everything up to the last "@" goes.
    CHECK(mask_url_credentials("http://relay:p @:/ss w0rd@proxy:3128") == "http://****@proxy:3128");
    CHECK(mask_url_credentials("http://:@proxy") == "http://****@proxy");
}

TEST_CASE("util::mask_url_credentials leaves text without credentials alone", "[util]") {
    CHECK(mask_url_credentials("") == "");
    CHECK(mask_url_credentials("https://events.launchdarkly.com") ==
          "https://events.launchdarkly.com");
    CHECK(mask_url_credentials("connection refused") == "connection refused");
    CHECK(mask_url_credentials("proxy.internal:3128") == "proxy.internal:3128");
    CHECK(mask_url_credentials("mail relay@example.com") == "mail relay@example.com");
}

TEST_CASE("util::mask_url_credentials masks every URL of a line", "[util]") {
    CHECK(mask_url_credentials("from http://a:b@one to https://two and http://c@three/x") ==
          "from http://****@one to https://two and http://****@three/x");
    // libcurl's error text quotes the URL it could not use.
    CHECK(mask_url_credentials("Unsupported proxy syntax in 'http://u:pass word@proxy:1': x") ==
          "Unsupported proxy syntax in 'http://****@proxy:1': x");
    // A line break ends the search for the "@".
    CHECK(mask_url_credentials("http://host/path\nuser@example.com") ==
          "http://host/path\nuser@example.com");
}
