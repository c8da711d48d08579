#include "core/inbound/deadline_responder.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <vector>

using namespace evrelay;
using namespace std::chrono_literals;

namespace {

// The answers a responder was given, in order.
struct Given {
    std::mutex mutex;
    std::vector<int> statuses;
    std::promise<void> first;
    bool any = false;

    HttpResponder responder() {
        return [this](HttpResponse response) {
            std::lock_guard lock(mutex);
            statuses.push_back(response.status);
            if (!any) {
                any = true;
                first.set_value();
            }
        };
    }
    std::vector<int> seen() {
        std::lock_guard lock(mutex);
        return statuses;
    }
};

HttpResponse with_status(int status) {
    HttpResponse response;
    response.status = status;
    return response;
}

} // namespace

TEST_CASE("DeadlineResponder: the answer in time is given, and the deadline cancelled",
          "[inbound]") {
    auto timer = std::make_shared<util::DeadlineTimer>();
    Given given;
    auto responder =
        DeadlineResponder::start(given.responder(), timer, 10s, [] { return with_status(503); });
    CHECK(timer->scheduled() == 1);
    CHECK_FALSE(responder->answered());
    CHECK(responder->answer(with_status(202)));
    CHECK(responder->answered());
    CHECK(timer->scheduled() == 0);
    CHECK_FALSE(responder->answer(with_status(500))); // once
    CHECK(given.seen() == std::vector<int>{202});
}

TEST_CASE("DeadlineResponder: the deadline answers first; the late answer is dropped",
          "[inbound]") {
    auto timer = std::make_shared<util::DeadlineTimer>();
    Given given;
    auto late = given.first.get_future();
    const auto started = std::chrono::steady_clock::now();
    auto responder =
        DeadlineResponder::start(given.responder(), timer, 50ms, [] { return with_status(503); });
    REQUIRE(late.wait_for(10s) == std::future_status::ready);
    CHECK(std::chrono::steady_clock::now() - started >= 50ms);
    CHECK_FALSE(responder->answer(with_status(202)));
    CHECK(given.seen() == std::vector<int>{503});
}

TEST_CASE("DeadlineResponder without a timer or a timeout waits for its answer", "[inbound]") {
    auto timer = std::make_shared<util::DeadlineTimer>();
    for (const bool with_timer : {false, true}) {
        Given given;
        auto responder =
            DeadlineResponder::start(given.responder(), with_timer ? timer : nullptr,
                                     with_timer ? 0ms : 10ms, [] { return with_status(503); });
        CHECK(timer->scheduled() == 0);
        CHECK(responder->answer(with_status(202)));
        CHECK(given.seen() == std::vector<int>{202});
    }
}

TEST_CASE("DeadlineResponder outlives its timer", "[inbound]") {
    Given given;
    std::shared_ptr<DeadlineResponder> responder;
    {
        auto timer = std::make_shared<util::DeadlineTimer>();
        responder =
            DeadlineResponder::start(given.responder(), timer, 1h, [] { return with_status(503); });
    }
    CHECK(responder->answer(with_status(202)));
    CHECK(given.seen() == std::vector<int>{202});
}
