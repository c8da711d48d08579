#include "core/replay/replay_job.hpp"

#include "core/util/line_reader.hpp"
#include "core/util/uuid.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

namespace evrelay {

namespace {

Pacer make_pacer(const ReplayJobOptions& options) {
    if (options.rate) {
        return Pacer::events_per_second(*options.rate);
    }
    if (options.speed) {
        return Pacer::recorded_speed(*options.speed);
    }
    return Pacer::unlimited();
}

} // namespace

ReplayJob::ReplayJob(ReplayJobOptions options, Dispatcher& dispatcher, ProblemHandler on_problem)
    : m_options(std::move(options)), m_dispatcher(dispatcher), m_on_problem(std::move(on_problem)),
      m_pacer(make_pacer(m_options)) {}

Result<void> ReplayJob::run(ReplayReadStats& stats) {
    std::vector<std::string> inputs = m_options.inputs;
    if (inputs.empty()) {
        inputs.emplace_back("-");
    }
    for (const std::string& path : inputs) {
        if (m_stop_requested.load() || stats.stopped_by_strict.load()) {
            break;
        }
        auto result = run_input(path, stats);
        if (!result) {
            return result;
        }
    }
    return {};
}

Result<void> ReplayJob::run_input(const std::string& path, ReplayReadStats& stats) {
    auto input = util::InputStream::open(path);
    if (!input) {
        return tl::unexpected(input.error());
    }
    stats.bytes_total.fetch_add((*input)->raw_size());
    const std::uint64_t bytes_before = stats.bytes_read.load();

    // With --rate, small items keep the pace smooth: about a tenth of a second of events each.
    std::size_t per_item = m_options.max_events_per_item;
    if (m_options.rate) {
        per_item =
            std::clamp<std::size_t>(static_cast<std::size_t>(*m_options.rate / 10), 1, per_item);
    }
    EventReader reader(**input, m_options.format, per_item);
    InputItem item;
    InputProblem problem;
    while (!m_stop_requested.load()) {
        auto next = reader.next(item, problem);
        if (!next) {
            return tl::unexpected(next.error());
        }
        stats.bytes_read.store(bytes_before + reader.raw_bytes_read());
        if (*next == EventReader::Next::end) {
            break;
        }
        if (*next == EventReader::Next::malformed) {
            stats.malformed.fetch_add(1);
            m_on_problem(problem);
            if (m_options.strict) {
                stats.stopped_by_strict.store(true);
                break;
            }
            continue;
        }
        if (m_options.speed && !item.envelope && reader.format() != InputFormat::capture) {
            // Without envelope timestamps there is no recorded pace to follow.
            spdlog::warn("replay: --speed needs capture input with timestamps; {} is {}, sent "
                         "as fast as the upstream allows",
                         path, to_string(*reader.format()));
            m_options.speed.reset();
            m_pacer = Pacer::unlimited();
        }
        const auto recorded = item.envelope ? std::optional(item.envelope->received) : std::nullopt;
        const auto release =
            m_pacer.release_time(item.events.size(), recorded, Pacer::Clock::now());
        if (release > Pacer::Clock::now()) {
            std::this_thread::sleep_until(release);
        }
        stats.events_read.fetch_add(item.events.size());
        publish_item(item);
    }
    return {};
}

void ReplayJob::publish_item(InputItem& item) {
    auto [env_name, sdk, metadata] = destination_of(item, m_options.target);

    if (item.kind == DataKind::diagnostic) {
        for (std::string_view event : item.events) {
            m_dispatcher.forward_diagnostic(env_name, sdk, std::string(event));
        }
        return;
    }
    if (m_options.preserve_payload_ids && item.envelope && item.envelope->payload_id) {
        // SPEC §5: the envelope is re-sent whole with its recorded ID, so the upstream can
        // de-duplicate what it already has.
        Payload payload;
        payload.id = *item.envelope->payload_id;
        payload.env_name = env_name;
        payload.sdk = sdk;
        payload.data = DataKind::analytics;
        payload.metadata = metadata;
        payload.body = join_events(item.events);
        payload.event_count = item.events.size();
        if (needs_summarising(metadata) && m_options.summarise_payload) {
            m_options.summarise_payload(payload);
        }
        m_dispatcher.forward_payload(std::move(payload));
        return;
    }
    if (needs_summarising(metadata) && m_options.summarise) {
        m_options.summarise(env_name, sdk, metadata, item.events);
        return;
    }
    m_dispatcher.publish(env_name, sdk, metadata, item.events);
}

} // namespace evrelay
