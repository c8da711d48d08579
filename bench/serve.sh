#!/usr/bin/env bash
# Serve benchmark (bench/README.md, "Serve"): wrk posts the fixed 50-event SDK payload
# (tests/fixtures/bench-payload-50-events.json, schema 4) over 64 keep-alive connections to
# `evrelay serve`, which forwards to a local upstream that reads, counts and discards the events
# (`bench_sink --count-events`, bench/tools/bench_sink.cpp), gzip off and gzip on; and, in the
# same run, the same load against nginx answering 202 to any POST: the floor for HTTP handling on
# this machine. Mode `summarise` (not run by default) posts old PHP SDKs' 50-event schema-2
# bodies instead (bench_gen_php_posts: `feature` events with inline users), which serve --flags
# summarises (issue 11): the sink then also adds up the summaries' counters
# (`bench_sink --count-summary`), which must equal the evaluations posted. Its targets: serve's
# CPU per posted event <= 2 x gzip_off's (the verbatim path) in the same run, and RSS flat (the
# mean of each quarter of the load is printed; 60 s gives 60 samples).
#
# Usage: bench/serve.sh [--help]   (everything else is set by the environment below), e.g.
#   bench/serve.sh                                                 nginx, gzip off, gzip on
#   BENCH_MODES="summarise gzip_off" BENCH_DURATION=60s bench/serve.sh   summarised vs verbatim
#   BENCH_MODES="gzip_off summarise" BENCH_DURATION=60s BENCH_NO_BUILD=1 bench/serve.sh
#                                                                  (the other order, to alternate)
#
# Environment (all optional):
#   BENCH_BUILD_DIR   build directory (default build-bench; configured RelWithDebInfo if missing)
#   BENCH_OUT         where perf data and the RSS samples go (default bench/out, gitignored)
#   BENCH_MODES       what to run, in order: nginx, gzip_off, gzip_on, summarise (default
#                     "nginx gzip_off gzip_on"; summarise's ratio needs gzip_off in the same run)
#   BENCH_DURATION    wrk -d (default 15s)
#   BENCH_CONNECTIONS wrk -c (default 64)
#   BENCH_WRK_THREADS wrk -t (default 2)
#   BENCH_PAYLOAD     the body every request posts (default the 50-event fixture; not summarise)
#   BENCH_PHP_USERS, BENCH_PHP_FLAGS, BENCH_PHP_TRACKED  summarise: users (300), flags (10) and
#                     flags with trackEvents (2) of the generated PHP posts (bench_gen_php_posts)
#   BENCH_SERVE_ARGS  extra arguments for `evrelay serve` (e.g. "--threads 1")
#   BENCH_NGINX_WORKERS worker_processes of the nginx floor (default 2: the same cores as serve)
#   BENCH_TIMEOUT     seconds allowed for each step besides the load itself (default 60)
#   BENCH_NO_BUILD    1: do not build, use what is in the build directory
#   BENCH_PERF        1: also `perf record -g` serve during each load into $BENCH_OUT/perf-serve-*.data
#                        (perf costs CPU too: do not put figures of such a run in the table)
#   BENCH_PERF_CALL_GRAPH perf's --call-graph (default fp; "dwarf,16384" gives whole stacks in
#                        this RelWithDebInfo build, which omits frame pointers, at more cost)
#
# Output: progress on stderr, then a "== results ==" block of key=value lines, the targets
# (met/missed) and markdown rows for bench/README.md on stdout. Exit status 1 when a check that
# makes the figures meaningless fails (an event accepted by serve that the upstream did not
# count, a non-2xx answer, serve failing to stop); missed performance targets do not fail it.
set -euo pipefail

case ${1:-} in
'') ;;
-h | --help)
    # This header, up to `set`, is the usage text.
    sed -n '2,/^set -euo pipefail/{/^set /d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
    exit 0
    ;;
*)
    echo "usage: bench/serve.sh [--help] (settings come from BENCH_* variables: see --help)" >&2
    exit 64
    ;;
esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BENCH_BUILD_DIR:-$root/build-bench}
out=${BENCH_OUT:-$root/bench/out}
read -r -a modes <<<"${BENCH_MODES:-nginx gzip_off gzip_on}"
duration=${BENCH_DURATION:-15s}
connections=${BENCH_CONNECTIONS:-64}
wrk_threads=${BENCH_WRK_THREADS:-2}
payload=${BENCH_PAYLOAD:-$root/tests/fixtures/bench-payload-50-events.json}
read -r -a serve_args <<<"${BENCH_SERVE_ARGS:-}"
nginx_workers=${BENCH_NGINX_WORKERS:-2}
limit=${BENCH_TIMEOUT:-60}
tools=(bench_sink bench_gen_php_posts)
hz=$(getconf CLK_TCK)

log() { printf '[bench] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

work=$(mktemp -d /tmp/evrelay-serve-bench.XXXXXX)
pids=() # every background process this script started, stopped on exit
stop_pid() { # PID: SIGTERM, up to 5 s, then SIGKILL
    local pid=$1
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        stop_pid "$pid"
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tools ----------------------------------------------------------------------------------
need() { # COMMAND DEBIAN-PACKAGE
    command -v "$1" >/dev/null && return
    log "installing $2"
    timeout 600 apt-get install -y "$2" >&2 || die "cannot install $2"
}
need wrk wrk
need nginx nginx-light
need curl curl
need python3 python3
need /usr/bin/time time
[[ ${BENCH_PERF:-0} == 1 ]] && need perf linux-perf

if [[ ${BENCH_NO_BUILD:-0} != 1 ]]; then
    if [[ ! -f $build/CMakeCache.txt ]]; then
        log "configuring $build (RelWithDebInfo)"
        timeout 900 cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DEVRELAY_TESTS=OFF >&2
    fi
    log "building evrelay and ${tools[*]}"
    timeout 1800 cmake --build "$build" --target evrelay "${tools[@]}" -- -j2 >&2
fi
evrelay=$build/evrelay
sink_tool=$build/bench/bench_sink
php_posts_tool=$build/bench/bench_gen_php_posts
for tool in "$evrelay" "$sink_tool" "$php_posts_tool"; do
    [[ -x $tool ]] || die "$tool is missing (build it, or unset BENCH_NO_BUILD)"
done
[[ -s $payload ]] || die "no payload at $payload"
events_per_post=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))))' "$payload")
payload_bytes=$(stat -c %s "$payload")
duration_s=$(awk -v d="$duration" 'BEGIN { n = d + 0; if (d ~ /m$/) n *= 60; if (d ~ /h$/) n *= 3600; print n }')
log "payload: $(basename "$payload"), $payload_bytes bytes, $events_per_post events per post"

# --- helpers ------------------------------------------------------------------------------------
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_http() { # URL PID WHAT: until URL answers, while PID lives
    for _ in $(seq $((limit * 10))); do
        curl -s -o /dev/null --max-time 2 "$1" && return 0
        kill -0 "$2" 2>/dev/null || die "$3 exited before answering $1"
        sleep 0.1
    done
    die "$3 did not answer $1 within ${limit}s"
}
cpu_ticks() { # PID...: user + system clock ticks of these processes (all their threads) so far
    local pid
    for pid in "$@"; do
        # Fields after the ")" that ends the command name: utime and stime are the 12th and 13th.
        sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null || true
    done | awk '{ t += $12 + $13 } END { print t + 0 }'
}
status_kb() { # PID FIELD: a "kB" field of /proc/PID/status
    awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || true
}
sample_rss() { # PID FILE: VmRSS (kB) once a second until killed
    while kill -0 "$1" 2>/dev/null; do
        status_kb "$1" VmRSS >>"$2"
        sleep 1
    done
}
loadavg() { cut -d' ' -f1 /proc/loadavg; }
wrk_value() { # FILE KEY: from the "wrk_result" line of bench/serve-post.lua
    sed -n 's/^wrk_result //p' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}
sink_value() { # PORT KEY: from the /stats of bench_sink --count-events
    curl -s --max-time 5 "http://127.0.0.1:$1/stats" | tr ' ' '\n' | sed -n "s/^$2=//p"
}
ratio() { awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { if (b == 0) print "n/a"; else printf f, a / b }'; }

declare -A result
failures=()

# What the load posts; the summarise mode changes these for its run (run_summarise).
load_bodies=''       # a file of bodies, one per line (bench/serve-post.lua), or the payload
load_schema=4        # X-LaunchDarkly-Event-Schema
load_events_per_post=$events_per_post
sink_flags=(--count-events)

# Runs wrk against URL and stores NAME_* results; CPU_PIDS are the server's processes.
run_load() { # NAME URL CPU_PIDS...
    local name=$1 url=$2
    shift 2
    local ticks_before ticks_after status=0
    result[${name}_loadavg]=$(loadavg)
    ticks_before=$(cpu_ticks "$@")
    log "$name: wrk -t$wrk_threads -c$connections -d$duration --latency $url (load ${result[${name}_loadavg]})"
    BENCH_SERVE_BODIES=$load_bodies BENCH_SERVE_SCHEMA=$load_schema \
        timeout $((duration_s + limit)) wrk -t"$wrk_threads" -c"$connections" -d"$duration" --latency \
        -s "$root/bench/serve-post.lua" "$url" -- "$payload" >"$work/wrk-$name.txt" 2>&1 ||
        status=$?
    ticks_after=$(cpu_ticks "$@")
    sed -e '/^wrk_result/d' "$work/wrk-$name.txt" >&2
    [[ $status == 0 ]] || die "wrk exited with status $status"
    local requests errors seconds ok
    requests=$(wrk_value "$work/wrk-$name.txt" requests)
    errors=$(wrk_value "$work/wrk-$name.txt" status_errors)
    seconds=$(awk -v u="$(wrk_value "$work/wrk-$name.txt" duration_us)" 'BEGIN { print u / 1e6 }')
    ok=$((requests - errors))
    result[${name}_requests]=$requests
    result[${name}_non2xx]=$errors
    result[${name}_socket_errors]=$(($(wrk_value "$work/wrk-$name.txt" connect_errors) +
        $(wrk_value "$work/wrk-$name.txt" read_errors) + $(wrk_value "$work/wrk-$name.txt" write_errors) +
        $(wrk_value "$work/wrk-$name.txt" timeouts)))
    result[${name}_requests_per_s]=$(ratio "$ok" "$seconds" '%.0f')
    result[${name}_events_per_s]=$(ratio "$((ok * load_events_per_post))" "$seconds" '%.0f')
    result[${name}_p50_ms]=$(awk -v u="$(wrk_value "$work/wrk-$name.txt" p50_us)" 'BEGIN { printf "%.2f", u / 1000 }')
    result[${name}_p99_ms]=$(awk -v u="$(wrk_value "$work/wrk-$name.txt" p99_us)" 'BEGIN { printf "%.2f", u / 1000 }')
    result[${name}_max_ms]=$(awk -v u="$(wrk_value "$work/wrk-$name.txt" max_us)" 'BEGIN { printf "%.2f", u / 1000 }')
    result[${name}_cpu_seconds]=$(awk -v t="$((ticks_after - ticks_before))" -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')
    result[${name}_cpu_us_per_request]=$(ratio "$(((ticks_after - ticks_before) * 1000000 / hz))" "$ok" '%.1f')
    result[${name}_cpu_ns_per_event]=$(ratio "$(((ticks_after - ticks_before) * 1000000000 / hz))" \
        "$((ok * load_events_per_post))" '%.0f')
    result[${name}_cpu_percent]=$(ratio "$(((ticks_after - ticks_before) * 100 / hz))" "$seconds" '%.0f')
    if ((errors > 0)); then
        failures+=("$name: $errors non-2xx answers")
    fi
}

# --- the floor: nginx answering 202 to every POST ------------------------------------------
# bench/nginx-sink.conf (the replay benchmark's upstream: `return 202`, which reads and discards
# the body, no access log, keep-alive) with as many workers as serve has cores.
run_nginx() {
    local dir=$work/nginx port master workers
    mkdir -p "$dir"
    port=$(free_port)
    sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" \
        -e "s|^worker_processes 1;|worker_processes $nginx_workers;|" \
        "$root/bench/nginx-sink.conf" >"$dir/nginx.conf"
    grep -q "^worker_processes $nginx_workers;" "$dir/nginx.conf" ||
        die "bench/nginx-sink.conf no longer says 'worker_processes 1;'"
    nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" -g 'daemon off;' \
        2>"$dir/stderr.log" &
    master=$!
    pids+=("$master")
    wait_http "http://127.0.0.1:$port/nginx_status" "$master" nginx
    workers=$(pgrep -P "$master" | tr '\n' ' ')
    log "nginx: 127.0.0.1:$port, master $master, workers $workers"
    # Requests nginx answered during the load (its counter includes the status requests).
    local before after
    before=$(curl -s --max-time 5 "http://127.0.0.1:$port/nginx_status" | awk 'NR == 3 { print $3 }')
    # shellcheck disable=SC2086 # one argument per worker pid
    run_load nginx "http://127.0.0.1:$port/bulk" "$master" $workers
    after=$(curl -s --max-time 5 "http://127.0.0.1:$port/nginx_status" | awk 'NR == 3 { print $3 }')
    result[nginx_answered]=$((after - before - 1))
    stop_pid "$master"
}

# --- serve, forwarding to bench_sink --count-events ------------------------------------------
run_serve() { # NAME SERVE-ARGS...
    local name=$1
    shift
    local sink_dir=$work/sink-$name sink sink_port serve_port timer serve
    mkdir -p "$sink_dir"
    "$sink_tool" "${sink_flags[@]}" >"$sink_dir/port" 2>"$sink_dir/stderr.log" &
    sink=$!
    pids+=("$sink")
    for _ in $(seq 50); do
        grep -q '^port=' "$sink_dir/port" && break
        sleep 0.1
    done
    sink_port=$(sed -n 's/^port=//p' "$sink_dir/port")
    [[ -n $sink_port ]] || die "bench_sink did not start: $(cat "$sink_dir/stderr.log")"
    wait_http "http://127.0.0.1:$sink_port/stats" "$sink" bench_sink

    serve_port=$(free_port)
    # /usr/bin/time gives serve's whole-life CPU and peak RSS as a cross-check; the figures of
    # the load window come from /proc/<serve>/stat and /proc/<serve>/status.
    /usr/bin/time -v -o "$work/time-$name.txt" "$evrelay" serve --port "$serve_port" \
        --bind 127.0.0.1 --sdk-key sdk-bench --events-uri "http://127.0.0.1:$sink_port" \
        "$@" "${serve_args[@]}" >"$work/serve-$name.log" 2>&1 &
    timer=$!
    pids+=("$timer")
    for _ in $(seq 50); do
        serve=$(pgrep -P "$timer" || true)
        [[ -n $serve ]] && break
        sleep 0.1
    done
    [[ -n $serve ]] || die "serve did not start: $(cat "$work/serve-$name.log")"
    pids+=("$serve")
    wait_http "http://127.0.0.1:$serve_port/status" "$serve" "evrelay serve"
    log "$name: serve pid $serve on 127.0.0.1:$serve_port $* ${serve_args[*]}, upstream bench_sink pid $sink on $sink_port"

    local sink_ticks_before sampler perf_pid=
    sink_ticks_before=$(cpu_ticks "$sink")
    sample_rss "$serve" "$work/rss-$name.txt" &
    sampler=$!
    pids+=("$sampler")
    if [[ ${BENCH_PERF:-0} == 1 ]]; then
        mkdir -p "$out"
        perf record --call-graph "${BENCH_PERF_CALL_GRAPH:-fp}" -F 999 -o "$out/perf-serve-$name.data" -p "$serve" -- sleep "$duration_s" \
            >"$work/perf-$name.log" 2>&1 &
        perf_pid=$!
        pids+=("$perf_pid")
    fi
    run_load "$name" "http://127.0.0.1:$serve_port/bulk" "$serve"
    result[${name}_peak_rss_mb]=$(awk -v k="$(status_kb "$serve" VmHWM)" 'BEGIN { printf "%.1f", k / 1024 }')
    stop_pid "$sampler"
    [[ -n $perf_pid ]] && timeout "$limit" tail --pid="$perf_pid" -f /dev/null
    result[${name}_sink_cpu_seconds]=$(awk -v t="$(($(cpu_ticks "$sink") - sink_ticks_before))" -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')
    # "RSS flat": the resident set over the second half of the load, sampled once a second.
    local samples
    samples=$(wc -l <"$work/rss-$name.txt")
    result[${name}_rss_samples]=$samples
    result[${name}_rss_second_half_min_mb]=$(tail -n $((samples - samples / 2)) "$work/rss-$name.txt" |
        sort -n | head -n 1 | awk '{ printf "%.1f", $1 / 1024 }')
    result[${name}_rss_second_half_max_mb]=$(tail -n $((samples - samples / 2)) "$work/rss-$name.txt" |
        sort -n | tail -n 1 | awk '{ printf "%.1f", $1 / 1024 }')
    # "Flat" as a number: the mean of the last quarter of the samples within 10 % of the mean of
    # the second quarter (the first quarter is the warm-up: queues, arenas and the summariser's
    # LRU filling). Only meaningful over a long run (>= 60 samples: BENCH_DURATION=60s).
    # rss_quarters_mb: the mean of each quarter, to see a trend; the samples themselves are kept
    # in $out/rss-NAME.txt (kB, one a second).
    read -r "result[${name}_rss_q2_mean_mb]" "result[${name}_rss_q4_mean_mb]" "result[${name}_rss_flat]" \
        "result[${name}_rss_quarters_mb]" \
        < <(awk '{ kb[NR] = $1 } END {
                q = int(NR / 4); if (q < 1) { print "— — n/a —"; exit }
                for (k = 0; k < 4; k++) {
                    m[k] = 0; last = k == 3 ? NR : (k + 1) * q
                    for (i = k * q + 1; i <= last; i++) m[k] += kb[i]
                    m[k] /= (last - k * q) * 1024
                }
                d = (m[3] - m[1]) / m[1]; if (d < 0) d = -d
                printf "%.1f %.1f %s %.1f/%.1f/%.1f/%.1f\n", m[1], m[3], d <= 0.10 ? "yes" : "no",
                    m[0], m[1], m[2], m[3] }' "$work/rss-$name.txt")
    mkdir -p "$out" && cp "$work/rss-$name.txt" "$out/rss-$name.txt"

    # SIGTERM: serve stops accepting, flushes its queues and waits for the upstream (its
    # --shutdown-timeout, 10 s by default), then logs its totals.
    local status=0
    kill -TERM "$serve"
    timeout $((limit + 15)) tail --pid="$serve" -f /dev/null || die "serve did not stop after SIGTERM"
    wait "$timer" || status=$?
    tail -n 3 "$work/serve-$name.log" >&2
    ((status == 0)) || failures+=("$name: serve exited with status $status")
    local totals
    totals=$(sed -n 's/.*serve: stopped; \([0-9]*\) events received, \([0-9]*\) forwarded, \([0-9]*\) dropped.*/\1 \2 \3/p' \
        "$work/serve-$name.log")
    [[ -n $totals ]] || die "serve did not log its totals: $(tail -n 5 "$work/serve-$name.log")"
    read -r "result[${name}_serve_received]" "result[${name}_serve_forwarded]" \
        "result[${name}_serve_dropped]" <<<"$totals"
    result[${name}_upstream_events]=$(sink_value "$sink_port" events)
    result[${name}_upstream_posts]=$(sink_value "$sink_port" requests)
    result[${name}_upstream_bad_bodies]=$(($(sink_value "$sink_port" bad_bodies) + $(sink_value "$sink_port" other_bodies)))
    if [[ ${sink_flags[*]} == *--count-summary* ]]; then
        local key
        for key in kind_feature kind_debug kind_index kind_identify kind_custom kind_summary \
            kind_other summary_count unknown_count summary_bad; do
            result[${name}_upstream_$key]=$(sink_value "$sink_port" "$key")
        done
    fi
    result[${name}_cpu_seconds_whole_life]=$(awk -F': ' '/User time|System time/ { t += $2 } END { printf "%.2f", t }' "$work/time-$name.txt")
    result[${name}_peak_rss_mb_whole_life]=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$work/time-$name.txt")
    stop_pid "$sink"

    # Every event serve accepted must have been counted by the upstream. wrk counts only the
    # answers it read before it stopped: serve may accept up to one more post per connection.
    local received=${result[${name}_serve_received]} upstream=${result[${name}_upstream_events]}
    local answered=$(((result[${name}_requests] - result[${name}_non2xx]) * load_events_per_post))
    local most=$(((result[${name}_requests] - result[${name}_non2xx] + connections) * load_events_per_post))
    result[${name}_events_answered_202]=$answered
    if [[ $name == summarise ]]; then
        check_summarised "$answered" "$most"
        return
    fi
    if [[ $upstream == "$received" && ${result[${name}_serve_dropped]} == 0 &&
        ${result[${name}_serve_forwarded]} == "$received" && ${result[${name}_upstream_bad_bodies]} == 0 ]] &&
        ((received >= answered && received <= most)); then
        result[${name}_all_events_upstream]=yes
    else
        result[${name}_all_events_upstream]=no
        failures+=("$name: serve received $received events (wrk got 202 for $answered), forwarded ${result[${name}_serve_forwarded]}, dropped ${result[${name}_serve_dropped]}; the upstream counted $upstream")
    fi
}

# --- summarise: old PHP posts (schema 2) through serve --flags --------------------------------
# serve's "received"/"forwarded" count what it publishes (the summarised output), not the posted
# events; so the posts serve accepted are counted at the upstream by the kept `custom` events
# (each post has the same number), and the evaluations by the summaries' counters.
check_summarised() { # ANSWERED-EVENTS MOST-EVENTS (from wrk's 2xx answers)
    local answered=$1 most=$2 posts evaluations counted
    local received=${result[summarise_serve_received]} upstream=${result[summarise_upstream_events]}
    posts=$((result[summarise_upstream_kind_custom] / php[custom_per_post]))
    evaluations=$((posts * php[feature_per_post]))
    counted=${result[summarise_upstream_summary_count]}
    result[summarise_posts_accepted]=$posts
    result[summarise_events_accepted]=$((posts * php[events_per_post]))
    result[summarise_evaluations_posted]=$evaluations
    if [[ $counted == "$evaluations" && ${result[summarise_upstream_unknown_count]} == 0 &&
        ${result[summarise_upstream_summary_bad]} == 0 &&
        ${result[summarise_upstream_kind_custom]} == $((posts * php[custom_per_post])) &&
        ${result[summarise_upstream_kind_identify]} == $((posts * php[identify_per_post])) &&
        $upstream == "$received" && ${result[summarise_serve_forwarded]} == "$received" &&
        ${result[summarise_serve_dropped]} == 0 && ${result[summarise_upstream_bad_bodies]} == 0 ]] &&
        ((posts * php[events_per_post] >= answered && posts * php[events_per_post] <= most)); then
        result[summarise_all_evaluations_counted]=yes
    else
        result[summarise_all_evaluations_counted]=no
        failures+=("summarise: $posts posts accepted (custom events upstream; wrk got 202 for $((answered / php[events_per_post]))), so $evaluations evaluations; the summaries counted $counted (unknown ${result[summarise_upstream_unknown_count]}, malformed ${result[summarise_upstream_summary_bad]}); identify events ${result[summarise_upstream_kind_identify]}; serve published $received, forwarded ${result[summarise_serve_forwarded]}, dropped ${result[summarise_serve_dropped]}; the upstream counted $upstream events")
    fi
}

declare -A php
run_summarise() {
    local dir=$work/php figures key
    mkdir -p "$dir"
    figures=$(timeout "$limit" "$php_posts_tool" --out-dir "$dir" --users "${BENCH_PHP_USERS:-300}" \
        --flags "${BENCH_PHP_FLAGS:-10}" --tracked "${BENCH_PHP_TRACKED:-2}") ||
        die "bench_gen_php_posts failed"
    for key in bodies events_per_post feature_per_post custom_per_post identify_per_post users \
        flags tracked_flags mean_event_bytes; do
        php[$key]=$(tr ' ' '\n' <<<"$figures" | sed -n "s/^$key=//p")
        [[ -n ${php[$key]} ]] || die "bench_gen_php_posts did not say $key: $figures"
    done
    log "summarise: $figures"
    load_bodies=$dir/php-posts.ndjson load_schema=2 load_events_per_post=${php[events_per_post]}
    sink_flags=(--count-summary)
    run_serve summarise --no-gzip --flags "$dir/php-flags.json"
    load_bodies='' load_schema=4 load_events_per_post=$events_per_post
    sink_flags=(--count-events)
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for mode in "${modes[@]}"; do
    case $mode in
    nginx) run_nginx ;;
    gzip_off) run_serve gzip_off --no-gzip ;;
    gzip_on) run_serve gzip_on ;;
    summarise) run_summarise ;;
    *) die "unknown mode '$mode' in BENCH_MODES (nginx, gzip_off, gzip_on, summarise)" ;;
    esac
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

for name in gzip_off gzip_on; do
    if [[ -n ${result[${name}_requests_per_s]:-} && -n ${result[nginx_requests_per_s]:-} ]]; then
        result[${name}_vs_nginx]=$(ratio "${result[${name}_requests_per_s]}" "${result[nginx_requests_per_s]}" '%.2f')
    fi
done
if [[ -n ${result[summarise_cpu_ns_per_event]:-} && -n ${result[gzip_off_cpu_ns_per_event]:-} ]]; then
    result[summarise_cpu_vs_verbatim]=$(ratio "${result[summarise_cpu_ns_per_event]}" \
        "${result[gzip_off_cpu_ns_per_event]}" '%.2f')
fi

# --- report ------------------------------------------------------------------------------------
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
date=$(date -u +%Y-%m-%d)
get() { echo "${result[$1]:-—}"; }
{
    echo "== results =="
    echo "date=$date"
    echo "nproc=$(nproc)"
    echo "cpu=$cpu"
    echo "commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "payload=$(basename "$payload") bytes=$payload_bytes events_per_post=$events_per_post"
    if [[ -n ${php[bodies]:-} ]]; then
        echo "summarise_posts=$(for key in "${!php[@]}"; do printf '%s=%s ' "$key" "${php[$key]}"; done)"
    fi
    echo "wrk=-t$wrk_threads -c$connections -d$duration"
    echo "serve_args=${serve_args[*]}"
    # Other work on the machine steals cores: compare runs at similar load.
    echo "loadavg_start=$load_start"
    echo "loadavg_end=$load_end"
    for key in $(printf '%s\n' "${!result[@]}" | sort); do
        echo "$key=${result[$key]}"
    done
    met() { if awk "BEGIN { exit !($1) }"; then echo met; else echo MISSED; fi; }
    if [[ -n ${result[gzip_off_requests_per_s]:-} ]]; then
        echo
        echo "== targets (gzip off) =="
        [[ -n ${result[gzip_off_vs_nginx]:-} && ${result[gzip_off_vs_nginx]} != n/a ]] &&
            echo "requests/s >= 0.4 x nginx: $(met "${result[gzip_off_vs_nginx]} >= 0.4") (${result[gzip_off_vs_nginx]})"
        echo "CPU <= 50 us per request: $(met "${result[gzip_off_cpu_us_per_request]} <= 50") (${result[gzip_off_cpu_us_per_request]})"
        echo "p99 <= 10 ms: $(met "${result[gzip_off_p99_ms]} <= 10") (${result[gzip_off_p99_ms]})"
        echo "every accepted event upstream: ${result[gzip_off_all_events_upstream]} (${result[gzip_off_upstream_events]} of ${result[gzip_off_serve_received]})"
        echo "RSS over the second half: ${result[gzip_off_rss_second_half_min_mb]}-${result[gzip_off_rss_second_half_max_mb]} MB (peak ${result[gzip_off_peak_rss_mb]})"
    fi
    if [[ -n ${result[summarise_requests_per_s]:-} ]]; then
        echo
        echo "== targets (summarise) =="
        [[ -n ${result[summarise_cpu_vs_verbatim]:-} && ${result[summarise_cpu_vs_verbatim]} != n/a ]] &&
            echo "CPU per event <= 2 x verbatim (gzip_off): $(met "${result[summarise_cpu_vs_verbatim]} <= 2") (${result[summarise_cpu_ns_per_event]} ns vs ${result[gzip_off_cpu_ns_per_event]} ns: ${result[summarise_cpu_vs_verbatim]} x)"
        echo "RSS flat (last-quarter mean within 10 % of the second quarter's, $(get summarise_rss_samples) samples): $(get summarise_rss_flat) ($(get summarise_rss_q2_mean_mb) -> $(get summarise_rss_q4_mean_mb) MB; quarters $(get summarise_rss_quarters_mb) MB)"
        echo "every posted evaluation counted once upstream: $(get summarise_all_evaluations_counted) ($(get summarise_upstream_summary_count) counted, $(get summarise_evaluations_posted) posted)"
    fi
    echo
    echo "| date | load | nginx req/s | nginx µs CPU/req | gzip | serve req/s | events/s | ÷ nginx | p50 ms | p99 ms | µs CPU/req | peak RSS MB | RSS 2nd half MB | events upstream / accepted |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    for name in gzip_off gzip_on; do
        [[ -n ${result[${name}_requests_per_s]:-} ]] || continue
        printf '| %s | %s / %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s–%s | %s / %s |\n' \
            "$date" "$(get nginx_loadavg)" "$(get ${name}_loadavg)" "$(get nginx_requests_per_s)" \
            "$(get nginx_cpu_us_per_request)" "${name#gzip_}" "$(get ${name}_requests_per_s)" \
            "$(get ${name}_events_per_s)" "$(get ${name}_vs_nginx)" "$(get ${name}_p50_ms)" \
            "$(get ${name}_p99_ms)" "$(get ${name}_cpu_us_per_request)" "$(get ${name}_peak_rss_mb)" \
            "$(get ${name}_rss_second_half_min_mb)" "$(get ${name}_rss_second_half_max_mb)" \
            "$(get ${name}_upstream_events)" "$(get ${name}_serve_received)"
    done
    if [[ -n ${result[summarise_requests_per_s]:-} ]]; then
        echo
        echo "| date | mode | load | req/s | events/s | p99 ms | ns CPU/event | ÷ verbatim | RSS MB by quarter (flat) | peak RSS MB | evaluations counted / posted |"
        echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
        for name in summarise gzip_off; do
            [[ -n ${result[${name}_requests_per_s]:-} ]] || continue
            printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s (%s) | %s | %s |\n' \
                "$date" "$([[ $name == summarise ]] && echo "summarised (schema 2)" || echo "verbatim (schema 4)")" \
                "$(get ${name}_loadavg)" "$(get ${name}_requests_per_s)" "$(get ${name}_events_per_s)" \
                "$(get ${name}_p99_ms)" "$(get ${name}_cpu_ns_per_event)" \
                "$([[ $name == summarise ]] && get summarise_cpu_vs_verbatim || echo 1)" \
                "$(get ${name}_rss_quarters_mb)" "$(get ${name}_rss_flat)" \
                "$(get ${name}_peak_rss_mb)" \
                "$([[ $name == summarise ]] && echo "$(get summarise_upstream_summary_count) / $(get summarise_evaluations_posted)" || echo "—")"
        done
    fi
}
if ((${#failures[@]} > 0)); then
    for failure in "${failures[@]}"; do
        log "FAILED: $failure"
    done
    exit 1
fi
