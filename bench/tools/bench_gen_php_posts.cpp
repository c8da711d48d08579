// Writes the input of bench/serve.sh's summarising mode: analytics posts as an old PHP SDK sends
// them (schema 2: `feature` events with inline users, no summary, no index events), and the flag
// data evrelay summarises them with (`serve --flags FILE`).
//
//   bench_gen_php_posts --out-dir DIR [--posts N] [--users U] [--flags F] [--tracked T]
//
// DIR/php-posts.ndjson: N bodies, one compact JSON array of 50 events per line (default 60
// bodies). Every body has the same mix, so that a count of posts gives every other count:
// 44 `feature`, 4 `custom`, 2 `identify` events. The users (default 300, a few hundred: fewer
// than the 1,000 keys of the summariser's LRU) come 10 to a body, 5 events each; every fifth one
// has its email redacted (`privateAttrs`, as the PHP SDK writes it). The features evaluate the
// F flags (default 10, at most 10) in turn, each user getting a fixed variation per flag.
// DIR/php-flags.json: those flags as the SDKs' flag data; the first T (default 2) have
// trackEvents, and their events say `"trackEvents":true` as PHP SDKs since 3.6 write them.
//
// Prints one line of key=value figures for the caller:
//   bodies=N events_per_post=50 feature_per_post=44 custom_per_post=4 identify_per_post=2
//   users=U flags=F tracked_flags=T mean_event_bytes=M

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr int k_events_per_post = 50;
constexpr int k_users_per_post = 10; // 5 events each
constexpr int k_events_per_user = k_events_per_post / k_users_per_post;
constexpr int k_custom_per_post = 4;
constexpr int k_identify_per_post = 2;
constexpr int k_feature_per_post = k_events_per_post - k_custom_per_post - k_identify_per_post;

// A flag of the data and of the events: its variations as compact JSON, the default PHP code
// passes to variation().
struct FlagShape {
    std::string_view key;
    std::vector<std::string_view> variations;
    std::string_view default_json;
    int version;
};

const std::array<FlagShape, 10>& flag_shapes() {
    static const std::array<FlagShape, 10> k_shapes{{
        {"new-checkout-flow", {"true", "false"}, "false", 41},
        {"pricing-page-experiment",
         {R"("control")", R"("treatment-a")", R"("treatment-b")"},
         R"("control")",
         57},
        {"search-ranking-model", {R"("bm25")", R"("ltr-v2")"}, R"("bm25")", 12},
        {"homepage-layout",
         {R"({"layout":"list","columns":2,"showBanner":false})",
          R"({"layout":"grid","columns":3,"showBanner":true})"},
         R"({"layout":"list","columns":2,"showBanner":false})",
         88},
        {"max-cart-items", {"10", "25", "50"}, "10", 7},
        {"enable-dark-mode", {"true", "false"}, "false", 23},
        {"recommendations-widget", {"true", "false"}, "false", 15},
        {"api-rate-limit-tier", {R"("free")", R"("pro")", R"("enterprise")"}, R"("free")", 31},
        {"promo-banner-config",
         {R"({"text":"Free shipping over $50","color":"#0a7d32","dismissible":true})",
          R"({"text":"Winter sale: 20% off","color":"#b3261e","dismissible":false})"},
         R"({"text":"","color":"#000000","dismissible":true})",
         64},
        {"legacy-payment-fallback", {"true", "false"}, "true", 3},
    }};
    return k_shapes;
}

struct Options {
    std::string out_dir;
    int posts = 60;
    int users = 300;
    int flags = 10;
    int tracked = 2;
};

bool parse_options(int argc, char** argv, Options& options) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (i + 1 >= argc) {
            return false;
        }
        if (arg == "--out-dir") {
            options.out_dir = argv[++i];
        } else if (arg == "--posts") {
            options.posts = std::atoi(argv[++i]);
        } else if (arg == "--users") {
            options.users = std::atoi(argv[++i]);
        } else if (arg == "--flags") {
            options.flags = std::atoi(argv[++i]);
        } else if (arg == "--tracked") {
            options.tracked = std::atoi(argv[++i]);
        } else {
            return false;
        }
    }
    const int most_flags = static_cast<int>(flag_shapes().size());
    return !options.out_dir.empty() && options.posts > 0 && options.users > 0 &&
           options.flags > 0 && options.flags <= most_flags && options.tracked >= 0 &&
           options.tracked <= options.flags;
}

// A user's key: UUID-shaped like the keys of tests/fixtures/bench-payload-50-events.json.
std::string user_key(int user) {
    char key[64];
    std::snprintf(key, sizeof key, "3f2b8c9e-%04d-4e7b-9c0f-1a2b3c4d5e6f", user);
    return key;
}

// The inline user as the PHP SDK serialises it (EventSerializer): built-in attributes at the
// top, the rest under `custom`; a redacted attribute is left out and named in privateAttrs.
std::string php_user(int user) {
    static constexpr std::array<std::string_view, 3> k_plans{"free", "gold", "enterprise"};
    static constexpr std::array<std::string_view, 4> k_countries{"DE", "US", "FR", "JP"};
    char text[512];
    const bool redacted = user % 5 == 4;
    const std::string email =
        redacted ? ""
                 : R"("email":"user-)" + std::to_string(10000 + user) + R"(@example.invalid",)";
    const int written = std::snprintf(
        text, sizeof text,
        R"({"key":"%s","ip":"203.0.113.%d","country":"%s",)"
        R"(%s"name":"User %04d","custom":{"plan":"%s","groups":["beta","staff"],)"
        R"("accountAgeDays":%d}%s})",
        user_key(user).c_str(), user % 250,
        k_countries[static_cast<std::size_t>(user) % k_countries.size()].data(), email.c_str(),
        user, k_plans[static_cast<std::size_t>(user) % k_plans.size()].data(), 30 + user * 7 % 900,
        redacted ? R"(,"privateAttrs":["email"])" : "");
    return {text, static_cast<std::size_t>(written)};
}

std::string php_post(int post, const Options& options, std::int64_t base_ms) {
    const auto& shapes = flag_shapes();
    std::string body = "[";
    int feature = 0;
    for (int i = 0; i < k_events_per_post; ++i) {
        const int user = (post * k_users_per_post + i / k_events_per_user) % options.users;
        const std::string user_json = php_user(user);
        const std::int64_t created = base_ms + static_cast<std::int64_t>(post) * 1000 + i * 7;
        std::string event;
        if (i == 0 || i == 25) {
            event = R"({"kind":"identify","creationDate":)" + std::to_string(created) +
                    R"(,"key":")" + user_key(user) + R"(","user":)" + user_json + "}";
        } else if (i == 12 || i == 24 || i == 37 || i == 49) {
            char data[256];
            std::snprintf(data, sizeof data,
                          R"({"cartId":"cart-%08d-a91f","items":%d,"currency":"USD",)"
                          R"("paymentMethod":"card"})",
                          post * 100 + i, 1 + (post + i) % 9);
            event = R"({"kind":"custom","creationDate":)" + std::to_string(created) +
                    R"(,"key":"checkout-completed","user":)" + user_json + R"(,"data":)" + data +
                    R"(,"metricValue":)" + std::to_string(10 + (post * 13 + i) % 90) + ".99}";
        } else {
            // Every flag in turn over the run, offset per post so that a body is not a cycle.
            const int flag = (post * k_feature_per_post + feature * 3 + post) % options.flags;
            ++feature;
            const FlagShape& shape = shapes[static_cast<std::size_t>(flag)];
            const auto variation =
                static_cast<std::size_t>(user * 7 + flag) % shape.variations.size();
            event = R"({"kind":"feature","creationDate":)" + std::to_string(created) +
                    R"(,"key":")" + std::string(shape.key) + R"(","user":)" + user_json +
                    R"(,"variation":)" + std::to_string(variation) + R"(,"value":)" +
                    std::string(shape.variations[variation]) + R"(,"default":)" +
                    std::string(shape.default_json) + R"(,"version":)" +
                    std::to_string(shape.version) +
                    (flag < options.tracked ? R"(,"trackEvents":true})" : "}");
        }
        body += i == 0 ? "" : ",";
        body += event;
    }
    body += "]";
    return body;
}

// The SDKs' flag data: what the summariser reads of a flag (version, variations, trackEvents,
// trackEventsFallthrough, rules, debugEventsUntilDate) plus the members an SDK would also have.
std::string flag_data(const Options& options) {
    const auto& shapes = flag_shapes();
    std::string json = R"({"flags":{)";
    for (int f = 0; f < options.flags; ++f) {
        const FlagShape& shape = shapes[static_cast<std::size_t>(f)];
        std::string variations;
        for (std::string_view variation : shape.variations) {
            variations += (variations.empty() ? "" : ",") + std::string(variation);
        }
        json += (f == 0 ? "\"" : ",\"") + std::string(shape.key) + R"(":{"key":")" +
                std::string(shape.key) + R"(","version":)" + std::to_string(shape.version) +
                R"(,"on":true,"prerequisites":[],"targets":[],"rules":[],"fallthrough":)"
                R"({"variation":0},"offVariation":0,"variations":[)" +
                variations + R"(],"salt":"bench","trackEvents":)" +
                (f < options.tracked ? "true" : "false") +
                R"(,"trackEventsFallthrough":false,"debugEventsUntilDate":null})";
    }
    json += R"(},"segments":{}})";
    return json;
}

bool write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) {
        std::fprintf(stderr, "bench_gen_php_posts: cannot write %s\n", path.c_str());
        return false;
    }
    return true;
}

} // namespace

int main(int argc, char** argv) {
    Options options;
    if (!parse_options(argc, argv, options)) {
        std::fprintf(stderr,
                     "usage: %s --out-dir DIR [--posts N] [--users U] [--flags F (1-10)] "
                     "[--tracked T (0-F)]\n",
                     argv[0]);
        return 64;
    }
    // Recent creation dates, as a PHP process would write them.
    const std::int64_t base_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count();
    std::string posts;
    std::size_t event_bytes = 0;
    for (int post = 0; post < options.posts; ++post) {
        const std::string body = php_post(post, options, base_ms);
        // The events' own bytes: the body less its brackets and the commas between events.
        event_bytes += body.size() - 2 - (k_events_per_post - 1);
        posts += body;
        posts += '\n';
    }
    if (!write_file(options.out_dir + "/php-posts.ndjson", posts) ||
        !write_file(options.out_dir + "/php-flags.json", flag_data(options))) {
        return 73;
    }
    std::printf("bodies=%d events_per_post=%d feature_per_post=%d custom_per_post=%d "
                "identify_per_post=%d users=%d flags=%d tracked_flags=%d mean_event_bytes=%zu\n",
                options.posts, k_events_per_post, k_feature_per_post, k_custom_per_post,
                k_identify_per_post, options.users, options.flags, options.tracked,
                event_bytes / (static_cast<std::size_t>(options.posts) * k_events_per_post));
    return 0;
}
