// SPEC §7 with SPEC §2's credential rules: a flush whose key the upstream refuses (401) exits 78
// and keeps every payload in the spool; the next flush, with the fixed key, delivers them all
// with their recorded payload IDs. serve --no-forward --spool fills the spool.
#include "serve_process.hpp"
#include "spool_support.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <set>

using namespace evrelay::test;

TEST_CASE("flush with a refused key exits 78 and keeps the spool; the fixed key delivers it",
          "[spool][flush]") {
    ScratchDir scratch;
    const std::string spool = scratch.path().string() + "/spool";
    const std::string inbound_key = "sdk-inbound-key-0001";
    std::vector<std::string> accepted;
    {
        ServeProcess serve({"--sdk-key", inbound_key, "--no-forward", "--spool", spool});
        accepted = post_events(serve.port(), inbound_key, make_events(120), 12);
        REQUIRE(accepted.size() == 120);
        serve.process().send_signal(SIGTERM);
        REQUIRE(serve.process().wait(std::chrono::seconds(30)) == 0);
    }
    const auto spooled = spooled_payloads(spool);
    REQUIRE(spooled.size() == 10); // one line per post
    std::set<std::string> spooled_ids;
    for (const auto& payload : spooled) {
        spooled_ids.insert(payload.payload_id);
    }

    RecordingUpstream upstream;
    upstream.set_default_status(401);
    const auto refused = run_evrelay({"flush", spool, "--sdk-key", "sdk-revoked-key-9999",
                                      "--events-uri", upstream.url(), "--no-progress"});
    INFO(refused.err);
    CHECK(refused.status == 78);
    CHECK(refused.err.find("401") != std::string::npos);
    CHECK(refused.err.find("sdk-revoked-key-9999") == std::string::npos); // masked
    CHECK(refused.err.find("9999") != std::string::npos);
    // Disabled after the first 401: no payload was tried twice.
    CHECK(upstream.request_count() <= 10);
    CHECK(spooled_payloads(spool).size() == 10);

    upstream.clear();
    upstream.set_default_status(202);
    const auto fixed = run_evrelay({"flush", spool, "--sdk-key", "sdk-fixed-key-0002",
                                    "--events-uri", upstream.url(), "--no-progress"});
    INFO(fixed.err);
    CHECK(fixed.status == 0);
    const auto requests = upstream.requests();
    std::set<std::string> delivered_ids;
    for (const auto& [id, events] : delivered_payloads(requests)) {
        delivered_ids.insert(id);
    }
    CHECK(delivered_ids == spooled_ids);
    CHECK(delivered_events(requests) ==
          std::multiset<std::string>(accepted.begin(), accepted.end()));
    for (const auto& request : requests) {
        CHECK(request.header("authorization") == "sdk-fixed-key-0002");
    }
    CHECK(files_with_suffix(spool, ".seg").empty());
}
