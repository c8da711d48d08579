#pragma once

// Shared by the bench tools (header-only: bench/CMakeLists.txt builds every tools/*.cpp into its
// own executable, so shared code cannot be a .cpp there).
//
// RealisticEvents turns the 50 events of tests/fixtures/bench-payload-50-events.json into an
// endless stream of distinct events of the same shapes and sizes: every hole it varies is
// rewritten with the same number of bytes, so the mean event stays at the fixture's 396 bytes
// and figures stay comparable with the serve benchmark, while timestamps, user keys, cart IDs
// and flag keys differ from one envelope to the next (so gzip does not see 20 MB of one
// repeated 20 KB block, which would flatter the compression figures).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#ifndef EVRELAY_BENCH_FIXTURE
#define EVRELAY_BENCH_FIXTURE "tests/fixtures/bench-payload-50-events.json"
#endif

namespace evrelay::bench {

inline constexpr std::string_view k_default_fixture = EVRELAY_BENCH_FIXTURE;

inline std::optional<std::string> read_whole_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return std::nullopt;
    }
    std::ostringstream text;
    text << in.rdbuf();
    return std::move(text).str();
}

// Splits the top-level elements of a compact or pretty JSON array into their raw bytes. Only
// strings need care (brackets inside them do not count); the fixture and the captures this
// project writes are valid JSON, so this does not validate. Returns false when `array` is not
// one whole array.
inline bool split_array(std::string_view array, std::vector<std::string_view>& elements) {
    elements.clear();
    std::size_t i = array.find('[');
    if (i == std::string_view::npos) {
        return false;
    }
    ++i;
    int depth = 0;
    bool in_string = false;
    std::size_t start = std::string_view::npos;
    for (; i < array.size(); ++i) {
        const char c = array[i];
        if (in_string) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        switch (c) {
        case '"':
            in_string = true;
            break;
        case '{':
        case '[':
            if (depth == 0) {
                start = i;
            }
            ++depth;
            break;
        case '}':
        case ']':
            if (depth == 0) {
                return true; // the array's own ']'
            }
            --depth;
            if (depth == 0) {
                elements.push_back(array.substr(start, i + 1 - start));
            }
            break;
        default:
            break;
        }
    }
    return false;
}

// A 64-bit mixer (splitmix64): cheap, stateless, good enough to make IDs look random.
inline std::uint64_t mix64(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

inline void write_hex(char* out, std::uint64_t value, std::size_t digits) {
    static constexpr char k_hex[] = "0123456789abcdef";
    for (std::size_t i = digits; i-- > 0;) {
        out[i] = k_hex[value & 0xF];
        value >>= 4;
    }
}

inline void write_decimal(char* out, std::uint64_t value, std::size_t digits) {
    for (std::size_t i = digits; i-- > 0;) {
        out[i] = static_cast<char>('0' + value % 10);
        value /= 10;
    }
}

class RealisticEvents {
  public:
    static constexpr std::size_t k_events_per_round = 50; // the fixture's size

    // Loads the fixture; fails (nullopt) when it cannot be read or split.
    static std::optional<RealisticEvents> load(const std::string& fixture_path) {
        auto text = read_whole_file(fixture_path);
        if (!text) {
            return std::nullopt;
        }
        std::vector<std::string_view> events;
        if (!split_array(*text, events) || events.empty()) {
            return std::nullopt;
        }
        RealisticEvents result;
        for (std::string_view event : events) {
            result.m_templates.push_back(make_template(event));
        }
        return result;
    }

    std::size_t template_count() const { return m_templates.size(); }

    // Appends the events of round `round` (one fixture's worth, each distinct from every other
    // round's) to `out`, separated by `separator` (',' for an array, '\n' for NDJSON), and
    // records each event's [offset, size) in `spans` when given.
    void append_round(std::uint64_t round, std::string& out, char separator,
                      std::vector<std::pair<std::size_t, std::size_t>>* spans = nullptr) const {
        // One minute of traffic per round, as the fixture's summary covers one minute.
        const std::uint64_t time_shift = round * 60'000;
        for (std::size_t i = 0; i < m_templates.size(); ++i) {
            if (i != 0) {
                out.push_back(separator);
            }
            const Template& t = m_templates[i];
            const std::size_t begin = out.size();
            out.append(t.text);
            char* base = out.data() + begin;
            for (const Hole& hole : t.holes) {
                char* at = base + hole.offset;
                switch (hole.kind) {
                case HoleKind::timestamp:
                    write_decimal(at, hole.original + time_shift, 13);
                    break;
                case HoleKind::user:
                    // A population of 2^20 users; the fixture's own user number keeps the
                    // identify and index events of one user pointing at the same key.
                    write_hex(at, mix64((mix64(round) ^ hole.original) & 0xFFFFF) & 0xFFFFFFFF, 8);
                    break;
                case HoleKind::cart:
                    write_decimal(at, (round * 64 + hole.original) % 100'000'000, 8);
                    break;
                case HoleKind::flag:
                    // 100 flags; the summary's and the feature events' keys move together.
                    write_decimal(at, (hole.original + round * 7) % 100, 2);
                    break;
                }
            }
            if (spans != nullptr) {
                spans->emplace_back(begin, t.text.size());
            }
        }
    }

    // Bytes of one round's events without separators (the fixture's bytes).
    std::size_t round_event_bytes() const {
        std::size_t total = 0;
        for (const Template& t : m_templates) {
            total += t.text.size();
        }
        return total;
    }

  private:
    enum class HoleKind { timestamp, user, cart, flag };
    struct Hole {
        HoleKind kind;
        std::size_t offset;
        std::uint64_t original; // the fixture's value (or its index) at that place
    };
    struct Template {
        std::string text;
        std::vector<Hole> holes;
    };

    static bool all_digits(std::string_view text, std::size_t pos, std::size_t count) {
        if (pos + count > text.size()) {
            return false;
        }
        for (std::size_t i = pos; i < pos + count; ++i) {
            if (text[i] < '0' || text[i] > '9') {
                return false;
            }
        }
        return true;
    }

    static std::uint64_t parse_decimal(std::string_view text) {
        std::uint64_t value = 0;
        for (char c : text) {
            value = value * 10 + static_cast<std::uint64_t>(c - '0');
        }
        return value;
    }

    // Finds the places the generator rewrites: epoch-millisecond timestamps (13 digits starting
    // 17), the "3f2b8c9e" prefix of every user key, the 8 digits of "cart-NNNNNNNN" and the
    // 2 digits of "flag-NN".
    static Template make_template(std::string_view event) {
        Template t;
        t.text.assign(event);
        const std::string_view text = t.text;
        for (std::size_t i = 0; i < text.size(); ++i) {
            if (text[i] == '1' && all_digits(text, i, 13) && text.substr(i, 2) == "17" &&
                (i == 0 || text[i - 1] < '0' || text[i - 1] > '9') &&
                !all_digits(text, i + 13, 1)) {
                t.holes.push_back({HoleKind::timestamp, i, parse_decimal(text.substr(i, 13))});
                i += 12;
            } else if (text.substr(i, 9) == "3f2b8c9e-" && all_digits(text, i + 9, 4)) {
                t.holes.push_back({HoleKind::user, i, parse_decimal(text.substr(i + 9, 4))});
                i += 8;
            } else if (text.substr(i, 5) == "cart-" && all_digits(text, i + 5, 8)) {
                t.holes.push_back({HoleKind::cart, i + 5, parse_decimal(text.substr(i + 5, 8))});
                i += 12;
            } else if (text.substr(i, 5) == "flag-" && all_digits(text, i + 5, 2)) {
                t.holes.push_back({HoleKind::flag, i + 5, parse_decimal(text.substr(i + 5, 2))});
                i += 6;
            }
        }
        return t;
    }

    std::vector<Template> m_templates;
};

// Reads the events of an evrelay-capture/1 line: the array after "events": (SPEC §6). Returns
// an empty view for diagnostic lines or lines without events.
inline std::string_view capture_line_events(std::string_view line) {
    const std::size_t key = line.find("\"events\":");
    if (key == std::string_view::npos) {
        return {};
    }
    return line.substr(key + 9);
}

// Peak and current resident set from /proc/self/status (kB → bytes).
inline std::size_t proc_status_bytes(std::string_view field) {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (std::string_view(line).substr(0, field.size()) == field) {
            return static_cast<std::size_t>(std::stoull(line.substr(field.size() + 1))) * 1024;
        }
    }
    return 0;
}

} // namespace evrelay::bench
