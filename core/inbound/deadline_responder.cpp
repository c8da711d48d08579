#include "core/inbound/deadline_responder.hpp"

namespace evrelay {

DeadlineResponder::DeadlineResponder(HttpResponder respond, LateAnswer late)
    : m_respond(std::move(respond)), m_late(std::move(late)) {}

std::shared_ptr<DeadlineResponder>
DeadlineResponder::start(HttpResponder respond, const std::shared_ptr<util::DeadlineTimer>& timer,
                         std::chrono::milliseconds timeout, LateAnswer late) {
    auto responder = std::make_shared<DeadlineResponder>(std::move(respond), std::move(late));
    if (timer && timeout > std::chrono::milliseconds::zero()) {
        // Scheduled under the lock: an answer() racing with this finds the id to cancel.
        std::lock_guard lock(responder->m_mutex);
        responder->m_timer = timer;
        responder->m_deadline = timer->schedule(util::DeadlineTimer::Clock::now() + timeout,
                                                [responder] { responder->answer_late(); });
    }
    return responder;
}

bool DeadlineResponder::answer(HttpResponse response) {
    HttpResponder respond;
    util::DeadlineTimer::Id deadline = 0;
    {
        std::lock_guard lock(m_mutex);
        respond = std::move(m_respond);
        m_respond = nullptr;
        deadline = m_deadline;
        m_deadline = 0;
    }
    if (deadline != 0) {
        // Outside the lock: the deadline's function may be waiting for it (it then finds the
        // answer given and does nothing).
        if (auto timer = m_timer.lock()) {
            timer->cancel(deadline);
        }
    }
    if (!respond) {
        return false;
    }
    respond(std::move(response));
    return true;
}

bool DeadlineResponder::answered() const {
    std::lock_guard lock(m_mutex);
    return !m_respond;
}

void DeadlineResponder::answer_late() {
    HttpResponder respond;
    {
        std::lock_guard lock(m_mutex);
        respond = std::move(m_respond);
        m_respond = nullptr;
        m_deadline = 0;
    }
    if (respond) {
        respond(m_late());
    }
}

} // namespace evrelay
