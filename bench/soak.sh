#!/usr/bin/env bash
# Soak (bench/README.md, "Soak"): `evrelay serve` under ten minutes of mixed SDK traffic
# (bench_soak_load: every route, gzip on/off, schema 3/4, tags, the beacon, diagnostics, CORS
# preflights, /status and /metrics) while its upstream flaps between 202 and 503
# (bench_sink --count-events --flap), with a SIGHUP (config reload) every 30 s and an
# `evrelay flush` of its spool every minute. One serve per mode, all under the same load:
# `spool` (`--spool DIR`: what the upstream refuses goes to the spool and is drained back) and
# `durable` (`--spool DIR --durable`: every post on disk before its 202, sent from the spool).
# Every few seconds it samples each serve's resident set, open file descriptors and threads
# (/proc/PID/status, /proc/PID/fd) into a CSV, and at the end checks:
#   - flat: over the last quarter of the run the mean RSS is within 10 % of the second quarter's
#     mean, the mean number of open fds within +5 and the mean thread count within +2 (the first
#     quarter is warm-up: queues, buffers and connections grow to their working size);
#   - nothing lost: after the load stops, the upstream steadies, the serves stop (SIGTERM) and a
#     last flush of each spool, the events the upstream counted — each payload ID once, as the
#     events service counts — equal the analytics events the load got a 2xx for; the diagnostic
#     posts it counted equal those acknowledged; no request failed; serve dropped nothing; the
#     spools are empty.
#
# Environment (all optional):
#   BENCH_BUILD_DIR     build directory (default build-bench; configured RelWithDebInfo if missing)
#   BENCH_NO_BUILD      1: do not build, use what is in the build directory
#   BENCH_OUT           where the CSV and the results go (default bench/out, gitignored)
#   BENCH_TIMEOUT       seconds allowed for each step besides the load (default 60)
#   SOAK_DURATION       seconds of load (default 600)
#   SOAK_MODES          serves to run, from "spool durable plain" (default "spool durable";
#                       plain: no spool, so no flushes, and what the upstream refuses past the
#                       retries is dropped — the "nothing lost" check then fails by design)
#   SOAK_RATE           requests per second over all serves (default 200)
#   SOAK_CONNECTIONS    load connections (default 4)
#   SOAK_FLAP           the upstream's cycle, STATUS:SECONDS,… (default 202:20,503:13: a cycle
#                       of 33 s, so that SIGHUPs and flushes meet every phase of it)
#   SOAK_WARM_UP_POSTS  one-event posts sent to the durable serve before the soak (default
#                       100000: its memory of the last 100,000 stored payload IDs is then full)
#   SOAK_SAMPLE_EVERY   seconds between samples (default 5)
#   SOAK_HUP_EVERY      seconds between SIGHUPs (default 30)
#   SOAK_FLUSH_EVERY    seconds between flushes of each spool (default 60)
#   SOAK_SERVE_ARGS     extra arguments for every `evrelay serve`
#
# Output: progress on stderr; a "== results ==" block of key=value lines and a markdown row on
# stdout; the samples in $BENCH_OUT/soak-<UTC time>.csv (time_s,mode,pid,rss_kb,fds,threads).
# Exit status 1 when a check fails.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BENCH_BUILD_DIR:-$root/build-bench}
out=${BENCH_OUT:-$root/bench/out}
limit=${BENCH_TIMEOUT:-60}
duration=${SOAK_DURATION:-600}
read -r -a modes <<<"${SOAK_MODES:-spool durable}"
rate=${SOAK_RATE:-200}
connections=${SOAK_CONNECTIONS:-4}
flap=${SOAK_FLAP:-202:20,503:13}
warm_up_posts=${SOAK_WARM_UP_POSTS:-100000}
sample_every=${SOAK_SAMPLE_EVERY:-5}
hup_every=${SOAK_HUP_EVERY:-30}
flush_every=${SOAK_FLUSH_EVERY:-60}
read -r -a extra_serve_args <<<"${SOAK_SERVE_ARGS:-}"
tools=(bench_sink bench_soak_load)
sdk_key=sdk-soak-0000-0000-0000-000000000001
mobile_key=mob-soak-0000-0000-0000-000000000001
env_id=5e00000000000000000500a

log() { printf '[soak] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

work=$(mktemp -d /tmp/evrelay-soak.XXXXXX)
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

command -v curl >/dev/null || die "curl is missing (apt-get install curl)"
command -v python3 >/dev/null || die "python3 is missing (apt-get install python3)"
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
for tool in "$evrelay" "$build/bench/bench_sink" "$build/bench/bench_soak_load"; do
    [[ -x $tool ]] || die "$tool is missing (build it, or unset BENCH_NO_BUILD)"
done

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
sink_value() { # KEY: from the sink's /stats
    curl -s --max-time 5 "http://127.0.0.1:$sink_port/stats" | tr ' ' '\n' | sed -n "s/^$1=//p"
}
status_value() { # PID FIELD: a field of /proc/PID/status (its first number)
    awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || true
}

# --- the upstream: counts events by payload ID, flaps -----------------------------------------
"$build/bench/bench_sink" --count-events --flap "$flap" >"$work/sink.port" 2>"$work/sink.log" &
sink_pid=$!
pids+=("$sink_pid")
for _ in $(seq 50); do
    grep -q '^port=' "$work/sink.port" && break
    sleep 0.1
done
sink_port=$(sed -n 's/^port=//p' "$work/sink.port")
[[ -n $sink_port ]] || die "bench_sink did not start: $(cat "$work/sink.log")"
wait_http "http://127.0.0.1:$sink_port/stats" "$sink_pid" bench_sink
log "upstream: bench_sink on 127.0.0.1:$sink_port, flapping $flap"

# --- the serves ------------------------------------------------------------------------------
# One environment with all three credentials, so that every route has a target; SIGHUP re-reads
# this file.
config=$work/relay.conf
cat >"$config" <<EOF
[Events]
    eventsUri = "http://127.0.0.1:$sink_port"
[Environment "soak"]
    sdkKey = "$sdk_key"
    mobileKey = "$mobile_key"
    envId = "$env_id"
EOF
declare -A serve_pid serve_port serve_spool
urls=()
for mode in "${modes[@]}"; do
    args=(--config "$config" --bind 127.0.0.1)
    case $mode in
    spool) args+=(--spool "$work/spool-$mode") ;;
    durable) args+=(--spool "$work/spool-$mode" --durable) ;;
    plain) ;;
    *) die "unknown mode '$mode' in SOAK_MODES (spool, durable, plain)" ;;
    esac
    [[ $mode == plain ]] || serve_spool[$mode]=$work/spool-$mode
    port=$(free_port)
    "$evrelay" serve --port "$port" "${args[@]}" "${extra_serve_args[@]}" \
        >"$work/serve-$mode.log" 2>&1 &
    serve_pid[$mode]=$!
    serve_port[$mode]=$port
    pids+=("${serve_pid[$mode]}")
    wait_http "http://127.0.0.1:$port/status" "${serve_pid[$mode]}" "serve ($mode)"
    urls+=(--url "http://127.0.0.1:$port")
    log "serve ($mode): pid ${serve_pid[$mode]} on 127.0.0.1:$port ${args[*]:2} ${extra_serve_args[*]}"
done

# --- warm-up ----------------------------------------------------------------------------------
# A durable serve remembers the payload IDs of the last 100,000 posts it stored (README "Running
# several instances"; ~20 MB), so that an SDK's retry is not stored twice. At the soak's rate that
# memory fills for ~25 minutes: RSS would grow through the whole soak by design. Fill it first.
load_args=(--sdk-key "$sdk_key" --mobile-key "$mobile_key" --env-id "$env_id")
warm_up_seconds=0
: >"$work/warm-up.out"
if [[ -n ${serve_pid[durable]:-} ]] && ((warm_up_posts > 0)); then
    log "warm-up: $warm_up_posts one-event posts with payload IDs to serve (durable)"
    warm_up_start=$(date +%s)
    timeout 900 "$build/bench/bench_soak_load" --url "http://127.0.0.1:${serve_port[durable]}" \
        "${load_args[@]}" --mix warm-up --rate 1000000 --connections 16 \
        --requests "$warm_up_posts" >"$work/warm-up.out" 2>"$work/warm-up.log" ||
        die "the warm-up failed: $(cat "$work/warm-up.log")"
    warm_up_seconds=$(($(date +%s) - warm_up_start))
    log "warm-up done in ${warm_up_seconds}s: $(tr '\n' ' ' <"$work/warm-up.out")"
fi

# --- the load, with samples, SIGHUPs and flushes ----------------------------------------------
mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
csv=$out/soak-$stamp.csv
echo "time_s,mode,pid,rss_kb,fds,threads" >"$csv"
log "load: $rate requests/s over $connections connections for ${duration}s (samples every ${sample_every}s, SIGHUP every ${hup_every}s, flush every ${flush_every}s) -> $csv"
"$build/bench/bench_soak_load" "${urls[@]}" "${load_args[@]}" --rate "$rate" \
    --connections "$connections" --duration "$duration" >"$work/load.out" 2>"$work/load.log" &
load_pid=$!
pids+=("$load_pid")
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date +%s)
next_sample=0 next_hup=$hup_every next_flush=$flush_every
hups=0 flushes=0 flush_statuses=""
sample() {
    local now=$1 mode pid fds
    for mode in "${modes[@]}"; do
        pid=${serve_pid[$mode]}
        kill -0 "$pid" 2>/dev/null || die "serve ($mode) died during the soak: $(tail -n 5 "$work/serve-$mode.log")"
        fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
        echo "$now,$mode,$pid,$(status_value "$pid" VmRSS),$fds,$(status_value "$pid" Threads)" >>"$csv"
    done
}
while kill -0 "$load_pid" 2>/dev/null; do
    now=$(($(date +%s) - start))
    if ((now >= next_sample)); then
        sample "$now"
        next_sample=$((next_sample + sample_every))
    fi
    if ((now >= next_hup)); then
        for mode in "${modes[@]}"; do
            kill -HUP "${serve_pid[$mode]}"
        done
        hups=$((hups + 1))
        next_hup=$((next_hup + hup_every))
    fi
    if ((now >= next_flush)); then
        for mode in "${!serve_spool[@]}"; do
            # 0: delivered; 75: the upstream is in a 503 phase or serve's drain holds the spool.
            status=0
            timeout "$limit" "$evrelay" flush "${serve_spool[$mode]}" --config "$config" \
                --no-progress >>"$work/flush-$mode.log" 2>&1 || status=$?
            flush_statuses+="$mode:$status "
            flushes=$((flushes + 1))
        done
        next_flush=$((next_flush + flush_every))
    fi
    sleep 1
done
wait "$load_pid" || die "bench_soak_load failed: $(cat "$work/load.log")"
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
log "load done: $(tr '\n' ' ' <"$work/load.out")"

# --- the end: upstream steady, serves stop, a last flush ----------------------------------------
declare -A result
failures=()
curl -s --max-time 5 -o /dev/null "http://127.0.0.1:$sink_port/steady" || die "bench_sink did not answer /steady"
for mode in "${modes[@]}"; do
    pid=${serve_pid[$mode]}
    result[${mode}_peak_rss_mb]=$(awk -v k="$(status_value "$pid" VmHWM)" 'BEGIN { printf "%.1f", k / 1024 }')
    kill -TERM "$pid"
    status=0
    timeout $((limit + 15)) tail --pid="$pid" -f /dev/null || die "serve ($mode) did not stop after SIGTERM"
    wait "$pid" || status=$?
    ((status == 0)) || failures+=("serve ($mode) exited with status $status")
    totals=$(sed -n 's/.*serve: stopped; \([0-9]*\) events received, \([0-9]*\) forwarded, \([0-9]*\) dropped, \([0-9]*\) spooled.*/\1 \2 \3 \4/p' \
        "$work/serve-$mode.log")
    [[ -n $totals ]] || die "serve ($mode) did not log its totals: $(tail -n 5 "$work/serve-$mode.log")"
    read -r "result[${mode}_received]" "result[${mode}_forwarded]" "result[${mode}_dropped]" \
        "result[${mode}_spooled]" <<<"$totals"
    ((result[${mode}_dropped] == 0)) || failures+=("serve ($mode) dropped ${result[${mode}_dropped]} events")
    result[${mode}_warnings]=$(grep -c 'warning' "$work/serve-$mode.log" || true)
    result[${mode}_errors]=$(grep -c 'error' "$work/serve-$mode.log" || true)
done
for mode in "${!serve_spool[@]}"; do
    status=0
    timeout "$limit" "$evrelay" flush "${serve_spool[$mode]}" --config "$config" --no-progress \
        >>"$work/flush-$mode.log" 2>&1 || status=$?
    ((status == 0)) || failures+=("the last flush of the $mode spool exited $status: $(tail -n 3 "$work/flush-$mode.log")")
    left=$(find "${serve_spool[$mode]}" -maxdepth 2 -type f \( -name '*.seg' -o -name '*.open' -o -path '*/bad/*' \) | wc -l)
    ((left == 0)) || failures+=("$left files left in the $mode spool")
    result[${mode}_flush_runs]=$(grep -c '^flush: ' "$work/flush-$mode.log" || true)
done

# --- accounting -----------------------------------------------------------------------------
# The load's totals, warm-up included.
load_value() { cat "$work/load.out" "$work/warm-up.out" | sed -n "s/^$1=//p" | awk '{ t += $1 } END { print t + 0 }'; }
for key in requests analytics_posts_acked analytics_events_acked diagnostic_posts_acked \
    other_acked failed failed_analytics_events transport_errors; do
    result[load_$key]=$(load_value "$key")
done
for key in requests refused events duplicate_payloads duplicate_events other_bodies bad_bodies; do
    result[upstream_$key]=$(sink_value "$key")
done
((result[load_failed] == 0)) || failures+=("${result[load_failed]} requests failed: $(cat "$work/load.out" "$work/warm-up.out" | grep '^status_' | tr '\n' ' ')")
((result[upstream_bad_bodies] == 0)) || failures+=("the upstream got ${result[upstream_bad_bodies]} bodies that were not whole JSON")
if ((result[upstream_events] == result[load_analytics_events_acked])); then
    result[all_events_upstream]=yes
else
    result[all_events_upstream]=no
    failures+=("the load got a 2xx for ${result[load_analytics_events_acked]} analytics events; the upstream counted ${result[upstream_events]} (each payload ID once)")
fi
if ((result[upstream_other_bodies] != result[load_diagnostic_posts_acked])); then
    failures+=("the load got a 2xx for ${result[load_diagnostic_posts_acked]} diagnostic posts; the upstream counted ${result[upstream_other_bodies]}")
fi

# --- flat? ------------------------------------------------------------------------------------
# Per mode: the means of the second and of the last quarter of the samples.
for mode in "${modes[@]}"; do
    read -r q2_rss q4_rss q2_fds q4_fds q2_threads q4_threads samples min_rss max_rss < <(
        awk -F, -v m="$mode" 'BEGIN { n = 0 } $2 == m { rss[n] = $4; fds[n] = $5; th[n] = $6; n++ }
            function mean(a, from, to,   i, s) { s = 0; for (i = from; i < to; i++) s += a[i]; return s / (to - from) }
            END {
                if (n < 8) { print "0 0 0 0 0 0", n, "0 0"; exit }
                lo = rss[0]; hi = rss[0]
                for (i = 0; i < n; i++) { if (rss[i] < lo) lo = rss[i]; if (rss[i] > hi) hi = rss[i] }
                q = int(n / 4)
                printf "%.0f %.0f %.2f %.2f %.2f %.2f %d %d %d\n", mean(rss, q, 2 * q), mean(rss, 3 * q, n),
                    mean(fds, q, 2 * q), mean(fds, 3 * q, n), mean(th, q, 2 * q), mean(th, 3 * q, n), n, lo, hi
            }' "$csv")
    ((samples >= 8)) || die "only $samples samples of serve ($mode): run longer (SOAK_DURATION)"
    result[${mode}_samples]=$samples
    result[${mode}_rss_q2_mb]=$(awk -v k="$q2_rss" 'BEGIN { printf "%.1f", k / 1024 }')
    result[${mode}_rss_q4_mb]=$(awk -v k="$q4_rss" 'BEGIN { printf "%.1f", k / 1024 }')
    result[${mode}_rss_min_max_mb]=$(awk -v a="$min_rss" -v b="$max_rss" 'BEGIN { printf "%.1f-%.1f", a / 1024, b / 1024 }')
    result[${mode}_fds_q2]=$q2_fds
    result[${mode}_fds_q4]=$q4_fds
    result[${mode}_threads_q2]=$q2_threads
    result[${mode}_threads_q4]=$q4_threads
    flat=yes
    awk -v a="$q4_rss" -v b="$q2_rss" 'BEGIN { exit !(a <= 1.10 * b) }' ||
        { flat=no; failures+=("serve ($mode): RSS grew, last-quarter mean $q4_rss kB > 1.10 x second-quarter mean $q2_rss kB"); }
    awk -v a="$q4_fds" -v b="$q2_fds" 'BEGIN { exit !(a <= b + 5) }' ||
        { flat=no; failures+=("serve ($mode): open fds grew, last-quarter mean $q4_fds > second-quarter mean $q2_fds + 5"); }
    awk -v a="$q4_threads" -v b="$q2_threads" 'BEGIN { exit !(a <= b + 2) }' ||
        { flat=no; failures+=("serve ($mode): threads grew, last-quarter mean $q4_threads > second-quarter mean $q2_threads + 2"); }
    result[${mode}_flat]=$flat
done
cp "$work"/serve-*.log "$work"/load.log "$out/" 2>/dev/null || true

# --- report ------------------------------------------------------------------------------------
date=$(date -u +%Y-%m-%d)
get() { echo "${result[$1]:-—}"; }
{
    echo "== results =="
    echo "date=$date"
    echo "commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "nproc=$(nproc)"
    echo "duration_s=$duration rate=$rate connections=$connections flap=$flap"
    echo "warm_up_posts=$warm_up_posts warm_up_seconds=$warm_up_seconds"
    echo "modes=${modes[*]} serve_args=${extra_serve_args[*]}"
    echo "sighups=$hups flushes=$flushes flush_statuses=$flush_statuses"
    echo "loadavg_start=$load_start"
    echo "loadavg_end=$load_end"
    echo "csv=$csv"
    for key in $(printf '%s\n' "${!result[@]}" | sort); do
        echo "$key=${result[$key]}"
    done
    echo
    echo "| date | commit | mode | samples | RSS MB q2 → q4 (min–max) | fds q2 → q4 | threads q2 → q4 | flat | received | dropped | events acked / upstream | diagnostics acked / upstream |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    for mode in "${modes[@]}"; do
        printf '| %s | %s | %s | %s | %s → %s (%s) | %s → %s | %s → %s | %s | %s | %s | %s / %s | %s / %s |\n' \
            "$date" "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" "$mode" \
            "$(get "${mode}_samples")" "$(get "${mode}_rss_q2_mb")" "$(get "${mode}_rss_q4_mb")" \
            "$(get "${mode}_rss_min_max_mb")" "$(get "${mode}_fds_q2")" "$(get "${mode}_fds_q4")" \
            "$(get "${mode}_threads_q2")" "$(get "${mode}_threads_q4")" "$(get "${mode}_flat")" \
            "$(get "${mode}_received")" "$(get "${mode}_dropped")" "$(get load_analytics_events_acked)" \
            "$(get upstream_events)" "$(get load_diagnostic_posts_acked)" "$(get upstream_other_bodies)"
    done
} | tee "$out/soak-$stamp.results"
if ((${#failures[@]} > 0)); then
    for failure in "${failures[@]}"; do
        log "FAILED: $failure"
    done
    exit 1
fi
log "all checks passed"
