#include "core/summary/summary_counters.hpp"

#include "core/util/json_writer.hpp"

#include <algorithm>
#include <charconv>

namespace evrelay {

namespace {

void append_integer(std::string& out, std::int64_t value) {
    char text[24];
    const auto result = std::to_chars(text, text + sizeof text, value);
    out.append(text, result.ptr);
}

} // namespace

void SummaryCounters::count(const CountedEvaluation& evaluation, const ContextIdentity& context) {
    std::size_t index = 0;
    if (const auto found = m_index.find(evaluation.flag_key); found != m_index.end()) {
        index = found->second;
    } else {
        index = m_flags.size();
        FlagCounters& added = m_flags.emplace_back();
        added.key.assign(evaluation.flag_key);
        added.default_json.assign(evaluation.default_json);
        m_index.emplace(added.key, index);
    }
    FlagCounters& flag = m_flags[index];

    const auto counter =
        std::find_if(flag.counters.begin(), flag.counters.end(), [&](const Counter& c) {
            return c.variation == evaluation.variation && c.version == evaluation.version &&
                   c.value_identity == evaluation.value_identity;
        });
    if (counter != flag.counters.end()) {
        ++counter->count;
    } else {
        flag.counters.push_back(Counter{evaluation.variation, evaluation.version,
                                        std::string(evaluation.value_identity),
                                        std::string(evaluation.value_json), 1});
    }

    for (const ContextIdentity::KindKey& entry : context) {
        if (std::find(flag.context_kinds.begin(), flag.context_kinds.end(), entry.kind) ==
            flag.context_kinds.end()) {
            flag.context_kinds.push_back(entry.kind);
        }
    }

    // go-sdk-events: 0 is "no start yet" (an event dated 0 does not move the start).
    if (m_start_date == 0 || evaluation.creation_date < m_start_date) {
        m_start_date = evaluation.creation_date;
    }
    if (evaluation.creation_date > m_end_date) {
        m_end_date = evaluation.creation_date;
    }
}

void SummaryCounters::take_event(std::string& out) {
    out += R"({"kind":"summary","startDate":)";
    append_integer(out, m_start_date);
    out += R"(,"endDate":)";
    append_integer(out, m_end_date);
    out += R"(,"features":{)";
    for (std::size_t f = 0; f < m_flags.size(); ++f) {
        const FlagCounters& flag = m_flags[f];
        if (f > 0) {
            out += ',';
        }
        util::append_json_string(out, flag.key);
        out += R"(:{"default":)";
        out += flag.default_json;
        out += R"(,"counters":[)";
        for (std::size_t c = 0; c < flag.counters.size(); ++c) {
            const Counter& counter = flag.counters[c];
            if (c > 0) {
                out += ',';
            }
            out += '{';
            if (counter.variation) {
                out += R"("variation":)";
                append_integer(out, *counter.variation);
                out += ',';
            }
            if (counter.version) {
                out += R"("version":)";
                append_integer(out, *counter.version);
            } else {
                out += R"("unknown":true)";
            }
            out += R"(,"value":)";
            out += counter.value_json;
            out += R"(,"count":)";
            append_integer(out, static_cast<std::int64_t>(counter.count));
            out += '}';
        }
        out += R"(],"contextKinds":[)";
        for (std::size_t k = 0; k < flag.context_kinds.size(); ++k) {
            if (k > 0) {
                out += ',';
            }
            util::append_json_string(out, flag.context_kinds[k]);
        }
        out += "]}";
    }
    out += "}}";
    m_flags.clear();
    m_index.clear();
    m_start_date = 0;
    m_end_date = 0;
}

} // namespace evrelay
