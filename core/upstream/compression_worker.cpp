#include "core/upstream/compression_worker.hpp"

#include "core/util/gzip.hpp"

#include <utility>

namespace evrelay {

CompressionWorker::CompressionWorker(int gzip_level, std::mutex& mutex, Done done)
    : m_mutex(mutex), m_done(std::move(done)) {
    m_thread = std::thread([this, gzip_level] { run(gzip_level); });
}

CompressionWorker::~CompressionWorker() {
    stop();
}

void CompressionWorker::push_locked(JobPtr job) {
    m_queue.push_back(std::move(job));
    m_cv.notify_one();
}

void CompressionWorker::stop() {
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
    }
    m_cv.notify_all();
    if (m_thread.joinable()) {
        m_thread.join();
    }
}

std::deque<JobPtr> CompressionWorker::take_queued_locked() {
    return std::exchange(m_queue, {});
}

void CompressionWorker::run(int gzip_level) {
    util::GzipCompressor compressor(gzip_level);
    std::unique_lock lock(m_mutex);
    while (true) {
        m_cv.wait(lock, [&] { return m_stopping || !m_queue.empty(); });
        if (m_stopping) {
            return;
        }
        JobPtr job = std::move(m_queue.front());
        m_queue.pop_front();
        lock.unlock();
        compressor.compress(job->payload.body, job->compressed);
        lock.lock();
        m_done(std::move(job));
    }
}

} // namespace evrelay
