#!/usr/bin/env bash
# Writes the seed corpus of each fuzz target, tests/fuzz/corpus/<target without fuzz_>/, from the
# recorded SDK requests of tests/fixtures/, the scenarios of tests/sdk_reference/ and the
# examples. The corpus is committed: run this by hand only when the fixtures, the scenarios or a
# target's input layout change (needs jq, gzip, and node with tests/sdk_reference's npm packages,
# which `make deps` installs; CI does not run it). Each file is named after what it holds. The layouts are described at the top of each
# tests/fuzz/fuzz_*.cpp.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
fixtures=$root/tests/fixtures
corpus=$root/tests/fuzz/corpus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rm -rf "$corpus"
for target in json_validator event_splitter event_reader capture_record spool_segment \
    relay_config inbound_request summary; do
    mkdir -p "$corpus/$target"
done

# One line per recorded request with a body: "<fixture>-<line> <compact JSON body>".
for fixture in "$fixtures"/*.ndjson; do
    name=$(basename "$fixture" .ndjson)
    jq -c 'select(.body != null) | .body' "$fixture" | awk -v n="$name" '{ print n "-" NR " " $0 }'
done >"$work/bodies"

# The bodies (analytics arrays, diagnostic objects), de-duplicated, as JSON texts.
sort -u -k2 "$work/bodies" | while read -r id body; do
    printf '%s' "$body" >"$corpus/json_validator/$id.json"
    printf '%s' "$body" >"$corpus/event_splitter/$id.json"
done
cp "$fixtures/bench-payload-50-events.json" "$corpus/json_validator/bench-payload-50-events.json"
# Where the validator is lenient on purpose, escapes, depth, and small texts of each kind.
printf '%s' '[1e400, 123456789012345678901234567890, -0.0e-0, 1E+2]' >"$corpus/json_validator/numbers.json"
printf '%s' '["\ud800", "\udc00x", "\ud83d\ude00", "\u0000\"\\\/\b\f\n\r\t"]' >"$corpus/json_validator/escapes.json"
printf '%s' '{"a":{"b":[{"c":null,"d":true,"e":false}]},"a":"dup"}' >"$corpus/json_validator/nested.json"
printf '%s' ' "é\u00e9" ' >"$corpus/json_validator/scalar.json"
printf '%s' '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]' >"$corpus/json_validator/deep.json"
printf '%s' '[{"kind":"custom","key":"k"},{"kind":"identify"}]' >"$corpus/event_splitter/small-array.json"
printf '%s' '{"kind":"diagnostic-init","id":{}}' >"$corpus/event_splitter/diagnostic.json"
printf '%s' '[{}, 1]' >"$corpus/event_splitter/not-objects.json"

# Event reader: a control byte (format: 0 detect, 1 capture, 2 array, 3 NDJSON; +4 gzip; chunk
# size (byte >> 3) + 1), then the input.
control() { printf "\\x$(printf '%02x' "$1")"; }
jq -c 'select(.body | type == "array") | .body' "$fixtures"/v9-*.ndjson "$fixtures"/legacy-*.ndjson \
    | sed -n 1,4p >"$work/arrays"
jq -c 'select(.body | type == "array") | .body[]' "$fixtures"/v9-analytics-tags.ndjson \
    "$fixtures"/legacy-analytics.ndjson >"$work/events.ndjson"
head -n 3 "$root/examples/sample-capture.ndjson" >"$work/capture.ndjson"
{ control 0; cat "$work/arrays"; } >"$corpus/event_reader/detect-arrays"
{ control $((2 + 8 * 6)); cat "$work/arrays"; } >"$corpus/event_reader/array-chunk7"
{ control $((2 + 4)); head -n 1 "$work/arrays" | jq .; } >"$corpus/event_reader/array-pretty-gzip"
{ control 3; cat "$work/events.ndjson"; } >"$corpus/event_reader/ndjson"
{ control $((0 + 8 * 31)); printf '\xef\xbb\xbf'; sed 's/$/\r/' "$work/events.ndjson"; } \
    >"$corpus/event_reader/detect-ndjson-bom-crlf-chunk32"
{ control $((3 + 4)); head -c 1500 "$work/events.ndjson"; } >"$corpus/event_reader/ndjson-truncated-gzip"
{ control 1; cat "$work/capture.ndjson"; } >"$corpus/event_reader/capture"
{ control $((0 + 8 * 2)); cat "$work/capture.ndjson"; } >"$corpus/event_reader/detect-capture-chunk3"
{ control 2; printf '[{"a":1},\n 2, {"b":[1,2]}] junk [{}'; } >"$corpus/event_reader/array-problems"
{ control 3; printf '{"a":1}\n\n  \n[1]\n{"b":\n{"c":3}'; } >"$corpus/event_reader/ndjson-problems"

# Capture envelopes: the example's lines, one per file, and a few edge envelopes.
n=0
while IFS= read -r line; do
    n=$((n + 1))
    printf '%s\n' "$line" >"$corpus/capture_record/sample-$n.ndjson"
done <"$root/examples/sample-capture.ndjson"
printf '%s\n' '{"v":1,"received":"2026-11-26T23:19:43.1Z","env":"e\u0001\"","sdk":"js","kind":"diagnostic","event":{"kind":"diagnostic"}}' \
    >"$corpus/capture_record/diagnostic-escapes.ndjson"
printf '%s\n' '{"v":1,"received":"2000-02-29T00:00:00Z","env":"x","sdk":"mobile","kind":"analytics","schema":3,"tags":"t","payloadId":"p","events":[]}' \
    >"$corpus/capture_record/empty-events.ndjson"
printf '%s\n' '1678-01-01T00:00:00.000000001Z' >"$corpus/capture_record/timestamp-edge"

# Spool: a control byte (1 re-batch, 2 batched progress, 4 refusals, 8 max-age, 16 ".open",
# 32 incoming/ file), then a ".done" file and "--segment--", then the segment's lines.
{ control 0; cat "$work/capture.ndjson"; } >"$corpus/spool_segment/segment"
{ control 1; printf '2\n'; printf -- '--segment--\n'; cat "$work/capture.ndjson"; } \
    >"$corpus/spool_segment/rebatch-done"
{ control $((1 + 4)); printf '1\nb 0f6f4a7e-batch 2 3\n4'; printf -- '--segment--\n'; cat "$work/capture.ndjson"; } \
    >"$corpus/spool_segment/rebatch-batch-record-torn-refusals"
{ control $((2 + 16)); cat "$work/capture.ndjson"; printf '{"v":1,"rec'; } >"$corpus/spool_segment/open-torn-line"
{ control 8; cat "$work/capture.ndjson"; printf 'not json\n'; } >"$corpus/spool_segment/max-age-malformed"
{ control 32; cat "$work/arrays"; } >"$corpus/spool_segment/incoming-arrays"
{ control $((32 + 1)); cat "$work/events.ndjson"; } >"$corpus/spool_segment/incoming-ndjson-rebatch"

# Relay config: the example file, then variables.
cp "$root/examples/relay.conf" "$corpus/relay_config/example.conf"
{
    cat "$root/examples/relay.conf"
    printf -- '--variables--\n'
    printf 'PORT=8031\nUSE_EVENTS=true\nEVENTS_HOST=https://events.example\nEVENTS_FLUSH_INTERVAL=2s\n'
    printf 'EVENTS_CAPACITY=500\nLD_ENV_Production=sdk-var\nLD_MOBILE_KEY_Staging=mob-var\n'
    printf 'LD_CLIENT_SIDE_ID_Other=abc\nLD_ALLOWED_ORIGIN_Other=https://a.example,https://b.example\n'
    printf 'LD_ALLOWED_HEADER_Other=X-A\nPROXY_URL=http://proxy.example:3128\nPROXY_AUTH_USER=u\nLD_ENV_=x\n'
} >"$corpus/relay_config/example-and-variables.conf"
printf '[main]\nPORT = "80\\"30"\n[events]\nsendevents\ncapacity=1k\n[environment "a b"]\nsdkkey=k ; c\nallowedHeader\n' \
    >"$corpus/relay_config/quoting-and-bare-keys.conf"

# Inbound: a control byte (1 loopback, 2 offline, 4 no-forward), then one connection's requests.
# Each recorded request with its own header names, its body re-serialised (gzipped again when it
# came gzipped), framed by Content-Length or, as recorded, chunked.
request() { # fixture line (JSON), framing (length | chunked)
    local record=$1 framing=$2
    jq -r '"\(.method) \(.path) HTTP/1.1\r", (.rawHeaderNames[] as $n
        | ($n | ascii_downcase) as $l
        | select($l != "content-length" and $l != "transfer-encoding")
        | "\($n): \(.headers[$l])\r")' <<<"$record"
    local body
    body=$(jq -c 'if .body == null then empty else .body end' <<<"$record")
    if [[ -z $body ]]; then
        printf '\r\n'
        return
    fi
    if [[ $(jq -r '.headers["content-encoding"] // ""' <<<"$record") == gzip ]]; then
        printf '%s' "$body" | gzip -n -c >"$work/body"
    else
        printf '%s' "$body" >"$work/body"
    fi
    if [[ $framing == chunked ]]; then
        printf 'Transfer-Encoding: chunked\r\n\r\n%x\r\n' "$(stat -c %s "$work/body")"
        cat "$work/body"
        printf '\r\n0\r\n\r\n'
    else
        printf 'Content-Length: %d\r\n\r\n' "$(stat -c %s "$work/body")"
        cat "$work/body"
    fi
}
for fixture in "$fixtures"/*.ndjson; do
    name=$(basename "$fixture" .ndjson)
    n=0
    while IFS= read -r record; do
        n=$((n + 1))
        framing=length
        if [[ $(jq -r '.headers["transfer-encoding"] // ""' <<<"$record") == chunked ]]; then
            framing=chunked
        fi
        { control 0; request "$record" "$framing"; } >"$corpus/inbound_request/$name-$n"
    done <"$fixture"
done
# Keep-alive: two requests on one connection; the other routes.
{
    control 1
    request "$(sed -n 1p "$fixtures/v9-diagnostic.ndjson")" length
    request "$(sed -n 2p "$fixtures/v9-diagnostic.ndjson")" length
    printf 'GET /status HTTP/1.1\r\nHost: x\r\n\r\nPOST /admin/flush HTTP/1.1\r\nContent-Length: 0\r\n\r\n'
} >"$corpus/inbound_request/keep-alive-status-flush"
printf '\x00GET /a/fixture-client-side-id.gif?d=%s HTTP/1.1\r\nHost: x\r\n\r\n' \
    "$(printf '[{"kind":"custom","key":"k"}]' | base64 -w0)" >"$corpus/inbound_request/beacon"
printf '\x00GET /metrics HTTP/1.0\r\n\r\n' >"$corpus/inbound_request/metrics"
# The control byte alone, no request (the harness once passed a null buffer to memcpy for it).
printf '\x00' >"$corpus/inbound_request/control-byte-only"

# Summary: a control byte (schema 1 + bits 0-1, 3 and 4 as Unsummarized; 4 no flag data; 8 an
# upstream Date; 16 an LRU of 2; 32 ten minutes between posts), then flag data and a line
# "--events--" (without it: the target's built-in flag data), then events one a line, posts
# separated by a line "--post--".
# Each SDK reference scenario: the old-schema events an old PHP SDK posts for its evaluations
# (schema 2; schema 4 marked Unsummarized for a scenario of contexts), with its flag data.
for scenario in "$root"/tests/sdk_reference/scenarios/*.json; do
    name=$(basename "$scenario" .json)
    (cd "$root/tests/sdk_reference" &&
        node sdk_events.js --capture "$work/line" --flags-out "$work/flags.json" "$scenario" \
            >/dev/null 2>"$work/sdk.err") || {
        cat "$work/sdk.err" >&2
        exit 1
    }
    schema=$(jq -r '.schema' "$work/line")
    {
        control $((schema - 1))
        jq -c . "$work/flags.json"
        printf -- '--events--\n'
        jq -c '.events[]' "$work/line"
    } >"$corpus/summary/sdk-$name"
done
# The recorded posts' events with the built-in flag data: the legacy SDK's as schema 2 (their
# feature events name users by userKey: unreadable, passed on), the v9 SDK's as Unsummarized.
posts_of() { # fixture files...
    jq -c 'select(.body | type == "array") | .body' "$@" | while IFS= read -r body; do
        jq -c '.[]' <<<"$body"
        printf -- '--post--\n'
    done
}
{ control 1; posts_of "$fixtures"/legacy-analytics.ndjson; } >"$corpus/summary/legacy-posts"
{ control 3; posts_of "$fixtures"/v9-analytics-tags.ndjson; } >"$corpus/summary/v9-posts-unsummarized"
# Edge cases of each input kind, in two posts ten minutes apart with an LRU of 2 and an upstream
# Date; the same without flag data; a schema-1 post whose variations are looked up; flag data in
# the file data source's "flagValues" form.
edges='{"kind":"index","creationDate":1796083200001,"user":{"key":"u1","custom":{"kind":"x","a":1},"privateAttributeNames":["a"]}}
{"kind":"index","creationDate":1796083200002,"user":{"key":"u1"}}
{"kind":"feature","creationDate":1796083200003,"key":"tracked","user":{"key":"u1"},"value":true,"default":false,"variation":0,"version":11}
{"kind":"feature","creationDate":1796083200004,"key":"fallthrough","context":{"kind":"multi","org":{"key":"o%:1"},"user":{"key":"u2"}},"value":"red","version":7,"reason":{"kind":"RULE_MATCH","ruleIndex":0,"ruleId":"r-b"}}
{"kind":"feature","key":"debugged","user":{"key":7,"anonymous":true},"value":1,"version":5,"excludeFromSummaries":true}
{"kind":"feature","creationDate":1796083200005,"key":"unknown-flag","user":{"key":""},"value":{"b":2,"a":1},"default":null,"trackEvents":true,"debugEventsUntilDate":1796090000000}
{"kind":"identify","creationDate":1796083200006,"user":{"key":"u3","privateAttrs":["email"]}}
{"kind":"custom","creationDate":1796083200007,"key":"clicked","user":{"key":"u3"},"data":{"x":[1,2]},"metricValue":2.5}
{"kind":"alias","creationDate":1796083200008,"key":"u4","contextKind":"user","previousKey":"anon","previousContextKind":"anonymousUser"}
{"kind":"summary","startDate":1,"endDate":2,"features":{}}
{"kind":"migration_op","creationDate":1796083200009}
{"kind":"future-kind","creationDate":1796083200010}
{"kind":"feature","key":"plain","userKey":"u5","value":"a"}
{"kind":"feature","key":"plain","user":{"key":"u5"},"version":"1"}
[{"kind":"feature"}]
{"kind":
--post--
{"kind":"feature","creationDate":1796083800000,"key":"numbers","user":{"key":"u1"},"value":2.50,"version":3}
{"kind":"feature","creationDate":1796083800001,"key":"numbers","user":{"key":"u6"},"value":[1,2.0],"version":3}
--post--
--post--
{"kind":"custom","key":"after-empty-post","context":{"kind":"device","key":"d1"}}'
{ control $((1 + 8 + 16 + 32)); printf '%s\n' "$edges"; } >"$corpus/summary/edges-lru-clock-upstream-date"
{ control $((1 + 4)); printf '%s\n' "$edges"; } >"$corpus/summary/edges-no-flag-data"
{
    control 0
    printf '%s\n' '{"kind":"feature","creationDate":1796083200001,"key":"numbers","user":{"key":"u1"},"value":1.0,"version":3}'
    printf '%s\n' '{"kind":"feature","creationDate":1796083200002,"key":"fallthrough","user":{"key":"u1"},"value":{"a":1,"b":[2.0]},"version":7,"reason":{"kind":"FALLTHROUGH"}}'
    printf '%s\n' '{"kind":"feature","creationDate":1796083200003,"key":"plain","user":{"key":"u2"},"value":"c","version":1}'
} >"$corpus/summary/schema1-variation-lookup"
{
    control 1
    printf '%s\n' '{"flagValues":{"on":true,"colour":"red"},"flags":{"f":{"version":2,"variations":[1],"rules":[{"trackEvents":true}]}}}'
    printf -- '--events--\n'
    printf '%s\n' '{"kind":"feature","key":"on","user":{"key":"u1"},"value":true,"version":1}'
    printf '%s\n' '{"kind":"feature","key":"f","user":{"key":"u1"},"value":1,"version":2,"reason":{"kind":"RULE_MATCH","ruleIndex":0}}'
} >"$corpus/summary/flag-values"

for target in "$corpus"/*; do
    echo "$(basename "$target"): $(find "$target" -type f | wc -l) files, $(du -sh "$target" | cut -f1)"
done
