#include "core/summary/event_summarizer.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

using namespace evrelay;
using namespace std::chrono_literals;
using TimePoint = std::chrono::system_clock::time_point;

namespace {

// 2026-11-26T16:20:16.400Z, the creationDate of the fixtures' events.
const TimePoint k_now{std::chrono::milliseconds(1795736416400)};

// Flag data as GET /sdk/latest-all serves it (the members FlagInfo reads, and a few others).
const char* const k_flags = R"({"flags":{
  "tracked":{"key":"tracked","version":11,"on":true,"variations":[true,false],"trackEvents":true},
  "plain":{"key":"plain","version":7,"variations":["red","green",{"a":1,"b":[2]}],
           "trackEvents":false,"trackEventsFallthrough":true,
           "rules":[{"id":"r-a","trackEvents":false},{"id":"r-b","trackEvents":true}]},
  "numbers":{"key":"numbers","version":3,"variations":[1,2.5,3]},
  "debugged":{"key":"debugged","version":5,"variations":[0,1],"debugEventsUntilDate":1795736476400}
},"segments":{}})";

FlagData flag_data() {
    return parse_flag_data(k_flags).value(); // throws (the test fails) if it does not parse
}

// Feeds events to one summariser and keeps what comes out.
struct Harness {
    EventSummarizer summarizer;
    FlagData flags = flag_data();
    const FlagData* flags_used = &flags;
    TimePoint now = k_now;
    std::optional<TimePoint> upstream_date;
    int schema = 2;
    SummarizeCounts counts;

    explicit Harness(SummarizerOptions options = {}) : summarizer(options) {}

    std::vector<std::string> add(std::string_view event) {
        std::vector<std::string> out;
        summarizer.add(event, schema, flags_used, now, upstream_date, out, counts);
        return out;
    }
    std::string summary() {
        std::optional<std::string> event = summarizer.take_summary();
        REQUIRE(event);
        return *event;
    }
};

using Events = std::vector<std::string>;

// A PHP SDK 3.x feature event (schema 2), with the user inline.
std::string php_feature(std::string_view flag, std::string_view user_key, std::string_view rest,
                        std::int64_t creation_date = 1795736416401) {
    return R"({"kind":"feature","creationDate":)" + std::to_string(creation_date) + R"(,"key":")" +
           std::string(flag) + R"(","user":{"key":")" + std::string(user_key) +
           R"(","name":"PHP user"},)" + std::string(rest) + "}";
}

std::string index_of(std::string_view user_key, std::int64_t creation_date = 1795736416401) {
    return R"({"kind":"index","creationDate":)" + std::to_string(creation_date) +
           R"(,"context":{"kind":"user","key":")" + std::string(user_key) +
           R"(","name":"PHP user"}})";
}

} // namespace

TEST_CASE("EventSummarizer counts feature events into a summary", "[event_summarizer]") {
    Harness h;
    CHECK(h.add(php_feature("plain", "u1",
                            R"("value":"green","default":"red","variation":1,"version":7)",
                            1795736416500)) == Events{index_of("u1", 1795736416500)});
    CHECK(h.add(php_feature("plain", "u1",
                            R"("value":"green","default":"red","variation":1,"version":7)",
                            1795736416300))
              .empty()); // u1 seen: no index event; plain is not tracked
    CHECK(h.add(php_feature("plain", "u2",
                            R"("value":"red","default":"blue","variation":0,"version":7)",
                            1795736416900)) == Events{index_of("u2", 1795736416900)});
    CHECK(
        h.add(php_feature("numbers", "u2", R"("value":2.5,"default":0,"variation":1,"version":3)"))
            .empty());
    CHECK(h.counts.input == 4);
    CHECK(h.counts.summarised == 4);
    CHECK(h.counts.index_out == 2);
    CHECK(h.summarizer.has_pending_summary());
    // The first default of a flag is its default; start and end are the extreme dates.
    CHECK(
        h.summary() ==
        R"({"kind":"summary","startDate":1795736416300,"endDate":1795736416900,"features":{)"
        R"("plain":{"default":"red","counters":[{"variation":1,"version":7,"value":"green","count":2},)"
        R"({"variation":0,"version":7,"value":"red","count":1}],"contextKinds":["user"]},)"
        R"("numbers":{"default":0,"counters":[{"variation":1,"version":3,"value":2.5,"count":1}],)"
        R"("contextKinds":["user"]}}})");
    CHECK_FALSE(h.summarizer.has_pending_summary());
    CHECK_FALSE(h.summarizer.take_summary());
}

TEST_CASE("EventSummarizer: unknown flags and missing flag data", "[event_summarizer]") {
    Harness h;
    SECTION("no version: the SDK did not find the flag; counted unknown, nothing looked up") {
        // "tracked" has trackEvents in the flag data: without a version it is not looked up.
        h.add(php_feature("tracked", "u1",
                          R"("value":"fallback","default":"fallback","variation":null)"));
        h.add(php_feature("missing", "u1", R"("value":"a","default":"a")"));
        h.add(php_feature("missing", "u1", R"("value":"b","default":"b")"));
        h.add(php_feature("missing", "u1", R"("value":"a","default":"a")"));
        CHECK(h.counts.feature_out == 0);
        CHECK(
            h.summary() ==
            R"({"kind":"summary","startDate":1795736416401,"endDate":1795736416401,"features":{)"
            R"("tracked":{"default":"fallback","counters":[{"unknown":true,"value":"fallback","count":1}],"contextKinds":["user"]},)"
            R"("missing":{"default":"a","counters":[{"unknown":true,"value":"a","count":2},)"
            R"({"unknown":true,"value":"b","count":1}],"contextKinds":["user"]}}})");
    }
    SECTION("with a version but no flag data yet: counted unknown (SPEC §8)") {
        h.flags_used = nullptr;
        h.add(php_feature("tracked", "u1",
                          R"("value":true,"default":false,"variation":0,"version":11)"));
        CHECK(h.counts.feature_out == 0); // no flag data: nothing says it is tracked
        CHECK(
            h.summary() ==
            R"({"kind":"summary","startDate":1795736416401,"endDate":1795736416401,"features":{)"
            R"("tracked":{"default":false,"counters":[{"unknown":true,"value":true,"count":1}],"contextKinds":["user"]}}})");
    }
    SECTION("with a version, absent from the flag data: counted unknown (SPEC §8)") {
        h.add(
            php_feature("not-in-data", "u1", R"("value":1,"default":0,"variation":1,"version":2)"));
        CHECK(h.counts.feature_out == 0);
        CHECK(
            h.summary() ==
            R"({"kind":"summary","startDate":1795736416401,"endDate":1795736416401,"features":{)"
            R"("not-in-data":{"default":0,"counters":[{"unknown":true,"value":1,"count":1}],"contextKinds":["user"]}}})");
    }
}

TEST_CASE("EventSummarizer: full feature events", "[event_summarizer]") {
    Harness h;
    h.add(php_feature("plain", "u1", R"("value":"red","default":"x","variation":0,"version":7)"));
    REQUIRE(h.counts.index_out == 1);

    SECTION("the flag's trackEvents") {
        CHECK(
            h.add(php_feature(
                "tracked", "u1",
                R"("value":true,"default":false,"variation":0,"version":11,"prereqOf":"plain")")) ==
            Events{
                R"({"kind":"feature","creationDate":1795736416401,"key":"tracked","version":11,)"
                R"("contextKeys":{"user":"u1"},"variation":0,"value":true,"default":false,"prereqOf":"plain"})"});
    }
    SECTION("a fallthrough with trackEventsFallthrough; not without the reason") {
        CHECK(
            h.add(php_feature(
                "plain", "u1",
                R"("value":"red","default":"x","variation":0,"version":7,"reason":{ "kind" : "FALLTHROUGH" })")) ==
            Events{
                R"({"kind":"feature","creationDate":1795736416401,"key":"plain","version":7,)"
                R"("contextKeys":{"user":"u1"},"variation":0,"value":"red","default":"x","reason":{"kind":"FALLTHROUGH"}})"});
        CHECK(h.add(php_feature("plain", "u1",
                                R"("value":"red","default":"x","variation":0,"version":7)"))
                  .empty());
    }
    SECTION("a rule match whose rule has trackEvents (by id, else by index)") {
        CHECK(
            h
                .add(php_feature(
                    "plain", "u1",
                    R"("value":"green","default":"x","variation":1,"version":7,"reason":{"kind":"RULE_MATCH","ruleIndex":0,"ruleId":"r-b"})"))
                .size() == 1);
        CHECK(
            h
                .add(php_feature(
                    "plain", "u1",
                    R"("value":"green","default":"x","variation":1,"version":7,"reason":{"kind":"RULE_MATCH","ruleIndex":1})"))
                .size() == 1);
        CHECK(
            h
                .add(php_feature(
                    "plain", "u1",
                    R"("value":"green","default":"x","variation":1,"version":7,"reason":{"kind":"RULE_MATCH","ruleIndex":0,"ruleId":"r-a"})"))
                .empty());
        CHECK(
            h
                .add(php_feature(
                    "plain", "u1",
                    R"("value":"green","default":"x","variation":1,"version":7,"reason":{"kind":"RULE_MATCH","ruleIndex":5})"))
                .empty());
        CHECK(
            h
                .add(php_feature(
                    "plain", "u1",
                    R"("value":"green","default":"x","variation":1,"version":7,"reason":{"kind":"RULE_MATCH","ruleIndex":0,"inExperiment":true})"))
                .size() == 1);
        CHECK(h.counts.feature_out == 3);
    }
    SECTION("the event's own trackEvents wins over the flag data (PHP SDK >= 3.6)") {
        CHECK(
            h
                .add(php_feature(
                    "plain", "u1",
                    R"("value":"red","default":"x","variation":0,"version":7,"trackEvents":true)"))
                .size() == 1);
        CHECK(
            h
                .add(php_feature(
                    "tracked", "u1",
                    R"("value":true,"default":false,"variation":0,"version":11,"trackEvents":false)"))
                .empty());
        CHECK(
            h
                .add(php_feature(
                    "tracked", "u1",
                    R"("value":true,"default":false,"variation":0,"version":11,"trackEvents":null)"))
                .size() == 1); // null is "not said": the flag data decides
    }
    SECTION("every evaluation is counted, tracked or not") {
        h.add(php_feature("tracked", "u1",
                          R"("value":true,"default":false,"variation":0,"version":11)"));
        CHECK(h.counts.summarised == 2);
        CHECK(
            h.summary().find(
                R"("tracked":{"default":false,"counters":[{"variation":0,"version":11,"value":true,"count":1}])") !=
            std::string::npos);
    }
}

TEST_CASE("EventSummarizer: debug events", "[event_summarizer]") {
    Harness h;
    const std::string debugged =
        php_feature("debugged", "u1", R"("value":1,"default":0,"variation":1,"version":5)");
    const std::string debug_event =
        R"({"kind":"debug","creationDate":1795736416401,"key":"debugged","version":5,)"
        R"("context":{"kind":"user","key":"u1","name":"PHP user"},"variation":1,"value":1,"default":0})";
    // debugEventsUntilDate is k_now + 60 s.
    SECTION("while debugEventsUntilDate is later than now and the upstream's Date") {
        h.upstream_date = k_now + 30s;
        CHECK(h.add(debugged) == Events{index_of("u1"), debug_event});
        CHECK(h.counts.debug_out == 1);
        CHECK(h.counts.feature_out == 0);
    }
    SECTION("not once the upstream's Date is past it, though evrelay's clock is not") {
        h.upstream_date = k_now + 61s;
        CHECK(h.add(debugged) == Events{index_of("u1")});
    }
    SECTION("not once evrelay's clock is past it") {
        h.now = k_now + 60s;
        CHECK(h.add(debugged) == Events{index_of("u1")});
    }
    SECTION("the event's own debugEventsUntilDate") {
        h.add(debugged);
        CHECK(
            h
                .add(php_feature(
                    "numbers", "u1",
                    R"("value":1,"default":0,"variation":0,"version":3,"debugEventsUntilDate":1795736420000)"))
                .size() == 1);
        CHECK(
            h
                .add(php_feature(
                    "numbers", "u1",
                    R"("value":1,"default":0,"variation":0,"version":3,"debugEventsUntilDate":1795736410000)"))
                .empty());
    }
}

TEST_CASE("EventSummarizer: a schema-1 event without variation gets its value's index",
          "[event_summarizer]") {
    Harness h;
    h.schema = 1;
    h.add(php_feature("numbers", "u1", R"("value":2.50,"default":0,"version":3)"));
    h.add(php_feature("plain", "u1", R"("value":{"b":[2.0],"a":1},"default":null,"version":7)"));
    h.add(php_feature("numbers", "u1", R"("value":9,"default":0,"version":3)")); // in no variation
    SECTION("counted under the variation found") {
        CHECK(
            h.summary() ==
            R"({"kind":"summary","startDate":1795736416401,"endDate":1795736416401,"features":{)"
            R"("numbers":{"default":0,"counters":[{"variation":1,"version":3,"value":2.50,"count":1},)"
            R"({"version":3,"value":9,"count":1}],"contextKinds":["user"]},)"
            R"("plain":{"default":null,"counters":[{"variation":2,"version":7,"value":{"b":[2.0],"a":1},"count":1}],"contextKinds":["user"]}}})");
    }
    SECTION("only in schema 1: a schema-2 event without variation is an evaluation error") {
        Harness h2;
        h2.add(php_feature("numbers", "u1", R"("value":2.5,"default":0,"version":3)"));
        CHECK(h2.summary().find(R"({"version":3,"value":2.5,"count":1})") != std::string::npos);
    }
}

TEST_CASE("EventSummarizer: index events and the context LRU", "[event_summarizer]") {
    SECTION("cleared every 5 minutes") {
        Harness h;
        const std::string event =
            php_feature("plain", "u1", R"("value":"red","default":"x","variation":0,"version":7)");
        CHECK(h.add(event) == Events{index_of("u1")});
        h.now = k_now + 4min + 59s;
        CHECK(h.add(event).empty());
        h.now = k_now + 5min;
        CHECK(h.add(event) == Events{index_of("u1")});
        CHECK(h.summarizer.remembered_contexts() == 1);
        h.now = k_now + 9min;
        CHECK(h.add(event).empty()); // the interval restarted at the clearing
        CHECK(h.counts.index_out == 2);
    }
    SECTION("at most context_keys_capacity contexts, the least recent forgotten") {
        SummarizerOptions options;
        options.context_keys_capacity = 2;
        Harness h(options);
        auto feature = [](std::string_view user) {
            return php_feature("plain", user,
                               R"("value":"red","default":"x","variation":0,"version":7)");
        };
        CHECK(h.add(feature("a")).size() == 1);
        CHECK(h.add(feature("b")).size() == 1);
        CHECK(h.add(feature("a")).empty());     // a is the most recent now
        CHECK(h.add(feature("c")).size() == 1); // forgets b
        CHECK(h.add(feature("a")).empty());
        CHECK(h.add(feature("b")) == Events{index_of("b")});
        CHECK(h.summarizer.remembered_contexts() == 2);
    }
    SECTION("an identify event marks its context as seen, and is kept with it") {
        Harness h;
        CHECK(
            h.add(R"({"kind":"identify","creationDate":1795736416400,"key":"u1",
                        "user":{"key":"u1","email":"u1@example.invalid","custom":{"group":"even"}}})") ==
            Events{
                R"({"kind":"identify","creationDate":1795736416400,"context":{"kind":"user","key":"u1","email":"u1@example.invalid","group":"even"}})"});
        CHECK(h.add(php_feature("plain", "u1",
                                R"("value":"red","default":"x","variation":0,"version":7)"))
                  .empty());
        CHECK(h.counts.kept == 1);
        CHECK(h.counts.index_out == 0);
    }
    SECTION("an incoming index event is kept, converted, once per context") {
        Harness h;
        const std::string index =
            R"({"kind":"index","creationDate":1795736416401,"user":{"key":"u1","name":"PHP user"}})";
        CHECK(h.add(index) == Events{index_of("u1")});
        CHECK(h.add(index).empty());
        CHECK(h.add(php_feature("plain", "u1",
                                R"("value":"red","default":"x","variation":0,"version":7)"))
                  .empty());
        CHECK(h.counts.kept == 1);
        CHECK(h.counts.duplicate_index == 1);
    }
    SECTION("private attributes: the index event carries what the user's SDK redacted") {
        Harness h;
        CHECK(
            h.add(
                R"({"kind":"feature","creationDate":1795736416401,"key":"plain","value":"red","default":"x",
                        "variation":0,"version":7,"user":{"key":"u9","email":"e@x","custom":{"tier":"gold"},
                        "privateAttributeNames":["tier"],"privateAttrs":["name"]}})") ==
            Events{
                R"({"kind":"index","creationDate":1795736416401,"context":{"kind":"user","key":"u9","email":"e@x",)"
                R"("_meta":{"redactedAttributes":["name","tier"]}}})"});
    }
}

TEST_CASE("EventSummarizer: custom events", "[event_summarizer]") {
    Harness h;
    CHECK(
        h.add(R"({"kind":"custom","creationDate":1795736416402,"key":"checkout-completed",
                    "user":{"key":"u1","name":"PHP user"},"data":{ "cart" : 3 },"metricValue":1.5})") ==
        Events{
            index_of("u1", 1795736416402),
            R"({"kind":"custom","creationDate":1795736416402,"key":"checkout-completed","data":{"cart":3},)"
            R"("contextKeys":{"user":"u1"},"metricValue":1.5})"});
    CHECK(
        h.add(
            R"({"kind":"custom","creationDate":1795736416403,"key":"plain-metric","user":{"key":"u1"}})") ==
        Events{
            R"({"kind":"custom","creationDate":1795736416403,"key":"plain-metric","contextKeys":{"user":"u1"}})"});
    CHECK(h.counts.kept == 2);
    CHECK_FALSE(h.summarizer.has_pending_summary());
}

TEST_CASE("EventSummarizer: Unsummarized schema-4 events keep their context",
          "[event_summarizer]") {
    Harness h;
    h.schema = 4;
    const std::string multi =
        R"({"kind":"multi","user":{"key":"u1","name":"U"},"org":{"key":"o1"}})";
    CHECK(
        h.add(R"({"kind":"feature","creationDate":1795736416401,"key":"tracked","context":)" +
              multi + R"(,"value":true,"default":false,"variation":0,"version":11})") ==
        Events{
            R"({"kind":"index","creationDate":1795736416401,"context":)" + multi + "}",
            R"({"kind":"feature","creationDate":1795736416401,"key":"tracked","version":11,)"
            R"("contextKeys":{"org":"o1","user":"u1"},"variation":0,"value":true,"default":false})"});
    h.add(
        R"({"kind":"feature","creationDate":1795736416401,"key":"tracked","context":{"kind":"device","key":"d1"},
              "value":true,"default":false,"variation":0,"version":11,"excludeFromSummaries":true})");
    CHECK(
        h.summary() ==
        R"({"kind":"summary","startDate":1795736416401,"endDate":1795736416401,"features":{)"
        R"("tracked":{"default":false,"counters":[{"variation":0,"version":11,"value":true,"count":1}],)"
        R"("contextKinds":["org","user"]}}})");
}

TEST_CASE("EventSummarizer passes on what it cannot summarise, unchanged", "[event_summarizer]") {
    Harness h;
    const std::vector<std::string> unchanged = {
        // kept: no context to convert, or summarised by the SDK already
        R"({"kind":"alias","creationDate":1,"key":"u1","contextKind":"user","previousKey":"anon","previousContextKind":"anonymousUser"})",
        R"({"kind":"summary","startDate":1,"endDate":2,"features":{"f":{"default":1,"counters":[]}}})",
        // unknown kinds
        R"({"kind":"diagnostic-sample","creationDate":1})",
        R"({"kind":"debug","creationDate":1,"key":"f","user":{"key":"u"}})",
        // unreadable
        R"({"creationDate":1,"key":"no kind"})",
        R"({"kind":"feature","creationDate":1,"key":"f","value":1})",
        R"({"kind":"feature","creationDate":1,"key":"f","user":{"name":"no key"}})",
        R"({"kind":"feature","creationDate":1,"key":"f","user":{"key":"u"},"version":"7"})",
        R"({"kind":"feature","creationDate":"yesterday","key":"f","user":{"key":"u"}})",
        R"({"kind":"feature","creationDate":1,"key":7,"user":{"key":"u"}})",
        R"({"kind":"custom","creationDate":1,"key":"m","user":{"key":"u"},"metricValue":"x"})",
        R"(["not an object"])",
        R"({"kind":"feature", broken)",
    };
    for (const std::string& event : unchanged) {
        CHECK(h.add(event) == Events{event});
    }
    CHECK(h.counts.input == unchanged.size());
    CHECK(h.counts.kept == 2);
    CHECK(h.counts.passed_unknown_kind == 2);
    CHECK(h.counts.passed_unreadable == unchanged.size() - 4);
    CHECK(h.counts.summarised == 0);
    CHECK_FALSE(h.summarizer.has_pending_summary());
}

TEST_CASE("EventSummarizer dates an undated event by its clock", "[event_summarizer]") {
    Harness h;
    h.add(
        R"({"kind":"feature","key":"plain","user":{"key":"u1"},"value":"red","variation":0,"version":7})");
    CHECK(
        h.summary() ==
        R"({"kind":"summary","startDate":1795736416400,"endDate":1795736416400,"features":{)"
        R"("plain":{"default":null,"counters":[{"variation":0,"version":7,"value":"red","count":1}],"contextKinds":["user"]}}})");
}

TEST_CASE("EventSummarizer reads an already validated post as it reads each event's text",
          "[event_summarizer]") {
    // The inbound handler hands on the post's own validation (SummaryHub::publish): the output
    // must be the same, event by event, as when each event is indexed again.
    const std::vector<std::string> events = {
        php_feature("tracked", "u1", R"("value":true,"variation":0,"version":11)"),
        php_feature("plain", "u2",
                    R"("value":{"b":[2],"a":1},"version":7,"reason":{"kind":"FALLTHROUGH"})"),
        php_feature("plain", "u2", R"("value":"green","variation":1,"version":7,
                    "reason":{"kind":"RULE_MATCH","ruleIndex":1,"ruleId":"r-b"})"),
        php_feature("debugged", "u3", R"("value":1,"variation":1,"version":5,"default":0)"),
        php_feature("missing", "u1", R"("value":"x","default":"y")"),
        index_of("u4"),
        R"({"kind":"custom","creationDate":1,"key":"m","user":{"key":"u5","privateAttributeNames":["email"],"email":"e"},"data":{"k" : [1, 2]},"metricValue":2.5})",
        R"({"kind":"identify","creationDate":1,"key":"u6","user":{"key":"u6","custom":{"c":null}}})",
        R"({"kind":"alias","creationDate":1,"key":"u1","contextKind":"user","previousKey":"a"})",
        R"({"kind":"feature","creationDate":1,"key":"f","user":{"key":"u"},"version":"7"})",
        R"({"kind":"something-new","creationDate":1})",
    };
    std::string post = "[ ";
    for (const std::string& event : events) {
        post += event + (&event == &events.back() ? " ]" : " ,\n ");
    }
    post.append(k_json_padding, '\0');
    const std::string_view post_json(post.data(), post.size() - k_json_padding);
    JsonValidator validator;
    REQUIRE(validator.validate(post.data(), post_json));
    REQUIRE(validator.parts().size() == events.size());

    Harness by_text;
    Harness by_part;
    by_text.schema = by_part.schema = 1;
    for (std::size_t i = 0; i < events.size(); ++i) {
        INFO(events[i]);
        std::vector<std::string> out;
        by_part.summarizer.add(validator, validator.parts()[i], by_part.schema, by_part.flags_used,
                               by_part.now, by_part.upstream_date, out, by_part.counts);
        CHECK(out == by_text.add(events[i]));
    }
    CHECK(by_part.counts.input == events.size());
    CHECK(by_part.counts.passed_unreadable == 1);
    CHECK(by_part.counts.passed_unknown_kind == 1);
    CHECK(by_part.counts.feature_out == by_text.counts.feature_out);
    CHECK(by_part.counts.debug_out == 1);
    CHECK(by_part.summary() == by_text.summary());
}
