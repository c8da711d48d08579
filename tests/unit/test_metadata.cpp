#include "core/model/metadata.hpp"

#include <catch2/catch.hpp>

using namespace evrelay;

TEST_CASE("parse_schema_version", "[publisher][core]") {
    CHECK(parse_schema_version("4") == 4);
    CHECK(parse_schema_version("3") == 3);
    CHECK(parse_schema_version(" 4 ") == 4);
    CHECK(parse_schema_version("\t2") == 2);
    CHECK(parse_schema_version("") == 1);
    CHECK(parse_schema_version("   ") == 1);
    CHECK(parse_schema_version("abc") == 1);
    CHECK(parse_schema_version("4abc") == 1);
    CHECK(parse_schema_version("4 4") == 1);
    CHECK(parse_schema_version("0") == 1);
    CHECK(parse_schema_version("-3") == 1);
    CHECK(parse_schema_version("+4") == 1);
    CHECK(parse_schema_version("99999999999999999999") == 1);
}

TEST_CASE("metadata_from_headers", "[publisher][core]") {
    const PayloadMetadata metadata = metadata_from_headers("4", "application-id/web");
    CHECK(metadata.schema_version == 4);
    CHECK(metadata.tags == "application-id/web");
    CHECK(metadata_from_headers("", "") == PayloadMetadata{1, ""});
    CHECK(metadata_from_headers("3", "") != metadata_from_headers("4", ""));
    CHECK(metadata_from_headers("4", "a") != metadata_from_headers("4", "b"));
    CHECK(PayloadMetadataHash{}(metadata) ==
          PayloadMetadataHash{}(PayloadMetadata{4, "application-id/web"}));
}
