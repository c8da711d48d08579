#pragma once

#include "core/inbound/http_exchange.hpp"
#include "core/util/deadline_timer.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>

namespace evrelay {

// The answer to a deferred request (HttpResponse::later), given once by whichever comes first:
// answer() — a durable post's line is synced, or its append failed — or the deadline, which
// answers what `late` makes (serve --durable-timeout: 503, the SDK retries). What would have
// answered after the deadline still runs; its answer is then dropped. Thread-safe.
class DeadlineResponder : public std::enable_shared_from_this<DeadlineResponder> {
  public:
    using LateAnswer = std::function<HttpResponse()>;

    // Takes `respond` and, when `timer` is set and `timeout` > 0, schedules the deadline on it.
    // The timer is held weakly: destroyed first, it only takes the deadline with it.
    static std::shared_ptr<DeadlineResponder>
    start(HttpResponder respond, const std::shared_ptr<util::DeadlineTimer>& timer,
          std::chrono::milliseconds timeout, LateAnswer late);

    // Gives `response` and cancels the deadline; false (and nothing given) when the deadline
    // answered first.
    bool answer(HttpResponse response);
    bool answered() const;

    // Use start(); public for std::make_shared.
    DeadlineResponder(HttpResponder respond, LateAnswer late);

  private:
    void answer_late(); // on the timer's thread

    mutable std::mutex m_mutex;
    HttpResponder m_respond; // empty once answered
    LateAnswer m_late;
    std::weak_ptr<util::DeadlineTimer> m_timer;
    util::DeadlineTimer::Id m_deadline = 0; // 0: none
};

} // namespace evrelay
