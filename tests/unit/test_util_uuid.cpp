#include "core/util/uuid.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <thread>
#include <vector>

using evrelay::util::is_uuid;
using evrelay::util::make_uuid_from;
using evrelay::util::make_uuid_v4;

TEST_CASE("util::make_uuid_v4", "[util]") {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        const std::string id = make_uuid_v4();
        REQUIRE(id.size() == 36);
        REQUIRE(is_uuid(id));
        CHECK(id[14] == '4');                                         // version
        CHECK(std::string("89ab").find(id[19]) != std::string::npos); // RFC 4122 variant
        for (char c : id) {
            CHECK_FALSE((c >= 'A' && c <= 'F'));
        }
        seen.insert(id);
    }
    CHECK(seen.size() == 1000);

    SECTION("threads get different sequences") {
        std::vector<std::string> ids(4);
        std::vector<std::thread> threads;
        for (std::size_t i = 0; i < ids.size(); ++i) {
            threads.emplace_back([&ids, i] { ids[i] = make_uuid_v4(); });
        }
        for (auto& thread : threads) {
            thread.join();
        }
        CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == ids.size());
    }
}

TEST_CASE("util::make_uuid_from", "[util]") {
    const std::string id = make_uuid_from("0b1c2d3e-0000-4000-8000-000000000001/1");
    REQUIRE(is_uuid(id));
    CHECK(id[14] == '8');                                         // version 8 (name-based)
    CHECK(std::string("89ab").find(id[19]) != std::string::npos); // RFC 4122 variant
    // The same name, the same ID — in this process or any other.
    CHECK(make_uuid_from("0b1c2d3e-0000-4000-8000-000000000001/1") == id);
    std::set<std::string> seen;
    for (int i = 0; i < 10000; ++i) {
        seen.insert(make_uuid_from("payload/" + std::to_string(i)));
    }
    CHECK(seen.size() == 10000);
    CHECK(make_uuid_from("a") != make_uuid_from("b"));
    CHECK(make_uuid_from("") != make_uuid_from("a"));
}

TEST_CASE("util::is_uuid", "[util]") {
    CHECK(is_uuid("0b4c8b7e-7a2f-4c1e-9f3a-2d6e8c1b5a90"));
    CHECK(is_uuid("0B4C8B7E-7A2F-4C1E-9F3A-2D6E8C1B5A90"));
    CHECK(is_uuid("00000000-0000-0000-0000-000000000000"));
    CHECK_FALSE(is_uuid(""));
    CHECK_FALSE(is_uuid("0b4c8b7e7a2f4c1e9f3a2d6e8c1b5a90"));
    CHECK_FALSE(is_uuid("0b4c8b7e-7a2f-4c1e-9f3a-2d6e8c1b5a9"));
    CHECK_FALSE(is_uuid("0b4c8b7e-7a2f-4c1e-9f3a-2d6e8c1b5a900"));
    CHECK_FALSE(is_uuid("0b4c8b7e_7a2f-4c1e-9f3a-2d6e8c1b5a90"));
    CHECK_FALSE(is_uuid("0b4c8b7g-7a2f-4c1e-9f3a-2d6e8c1b5a90"));
    CHECK_FALSE(is_uuid("{b4c8b7e-7a2f-4c1e-9f3a-2d6e8c1b5a9}"));
}
