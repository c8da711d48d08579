#pragma once

#include "core/upstream/sender_job.hpp"

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace evrelay {

// Gzips the bodies of the sender's jobs on a thread of its own, once per payload (every attempt
// sends the same bytes, SenderJob::compressed). One thread: bench/README.md has what a second
// one would buy.
//
// It shares the sender's mutex instead of having its own: a job comes in under the lock that
// submit() holds anyway, and goes out (to the curl thread) under the one lock the worker takes
// per job, which also picks up the next job. So compression costs no extra lock per payload.
class CompressionWorker {
  public:
    // Called on the worker thread, with `mutex` held, for each compressed job.
    using Done = std::function<void(JobPtr)>;

    // Starts the thread. `mutex` guards the worker's queue and must outlive it.
    CompressionWorker(int gzip_level, std::mutex& mutex, Done done);
    ~CompressionWorker(); // stop()
    CompressionWorker(const CompressionWorker&) = delete;
    CompressionWorker& operator=(const CompressionWorker&) = delete;

    // Queues a job to compress; `mutex` held. Also after stop() (the job then stays queued).
    void push_locked(JobPtr job);

    // Ends the thread once the body it is compressing, if any, is handed on. Idempotent; call it
    // without `mutex` held.
    void stop();

    // What is still queued (after stop(): for the sender to report); `mutex` held.
    std::deque<JobPtr> take_queued_locked();

  private:
    void run(int gzip_level);

    std::mutex& m_mutex;
    const Done m_done;
    std::condition_variable m_cv; // work, or stopping
    bool m_stopping = false;      // guarded by m_mutex
    std::deque<JobPtr> m_queue;   // guarded by m_mutex
    std::thread m_thread;
};

} // namespace evrelay
