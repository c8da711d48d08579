#!/usr/bin/env bash
# Spool benchmark (bench/README.md, "Spool"), issue 4 item 6:
#  1. the cost of `serve --durable`: bench/serve.sh's load (wrk, 64 connections, the 50-event
#     fixture, gzip off) against plain serve and against `serve --spool DIR --durable`, in one
#     run; requests/s and p99 of both and their ratio (target: durable >= 0.5x);
#  1b. (part "preserve", not run by default) the same load against `serve --spool DIR --durable
#     --payload-ids preserve`: the drain sends every post as its own request under the SDK's
#     payload ID instead of in batches; run it with "durable" to compare in one run
#     (BENCH_PARTS="durable preserve");
#  2. flush throughput: the ~1 GiB capture of bench/replay.sh, replayed with `evrelay replay`
#     (re-batched, and with --payload-ids preserve: each line whole, as flush sends it) and — cut
#     into 64 MiB spool segments — delivered with `evrelay flush` (each line whole, its default)
#     and `evrelay flush --payload-ids new` (re-batched), all gzip off, to the same nginx sink;
#     events/s of each and the time ratios (target: flush <= 1.5x the replay that sends the
#     data the same way).
#
# Environment (all optional):
#   BENCH_BUILD_DIR   build directory (default build-bench; configured RelWithDebInfo if missing)
#   BENCH_OUT         where the generated capture lives (default bench/out, gitignored)
#   BENCH_MB          capture size in MiB (default 1024)
#   BENCH_PARTS       what to run (default "durable flush"; also "preserve")
#   BENCH_DURATION    wrk -d of the durable comparison (default 15s)
#   BENCH_TIMEOUT     seconds allowed for each command (default 900)
#   BENCH_NO_BUILD    1: do not build, use what is in the build directory
#   BENCH_FLUSH_ARGS  extra arguments of the timed flush (e.g. "--max-connections 32")
#
# Output: the commands' logs on stderr, then a "== results ==" block of key=value lines on
# stdout. Exit status 1 when a check that makes the figures meaningless fails (an event missing
# upstream, a spool not emptied, a command failing).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BENCH_BUILD_DIR:-$root/build-bench}
out=${BENCH_OUT:-$root/bench/out}
size_mb=${BENCH_MB:-1024}
read -r -a parts <<<"${BENCH_PARTS:-durable flush}"
limit=${BENCH_TIMEOUT:-900}

log() { printf '[bench] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

work=$(mktemp -d /tmp/evrelay-spool-bench.XXXXXX)
sink_pid=
cleanup() {
    if [[ -n $sink_pid ]] && kill -0 "$sink_pid" 2>/dev/null; then
        kill -TERM "$sink_pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$sink_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$sink_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ ${BENCH_NO_BUILD:-0} != 1 ]]; then
    if [[ ! -f $build/CMakeCache.txt ]]; then
        log "configuring $build (RelWithDebInfo)"
        timeout "$limit" cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DEVRELAY_TESTS=OFF >&2
    fi
    log "building evrelay and the bench tools"
    timeout "$limit" cmake --build "$build" --target evrelay bench_gen_capture bench_sink \
        -- -j2 >&2
fi
evrelay=$build/evrelay
[[ -x $evrelay ]] || die "$evrelay is missing (build it, or unset BENCH_NO_BUILD)"
command -v /usr/bin/time >/dev/null || die "/usr/bin/time is missing (apt-get install -y time)"

declare -A result
value_of() { # FILE KEY: a key=value line of a "== results ==" block
    sed -n "s/^$2=//p" "$1" | tail -n 1
}
ratio() { awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { if (b > 0) printf f, a / b; else print "—" }'; }

# --- 1. durable cost -----------------------------------------------------------------------
durable_part() {
    local common=(env BENCH_BUILD_DIR="$build" BENCH_NO_BUILD=1 BENCH_MODES=gzip_off
        BENCH_DURATION="${BENCH_DURATION:-15s}")
    log "serve, gzip off, without --durable"
    "${common[@]}" "$root/bench/serve.sh" >"$work/plain.txt" ||
        die "bench/serve.sh (plain) failed: $(tail -n 20 "$work/plain.txt")"
    mkdir -p "$work/spool"
    log "serve, gzip off, --spool $work/spool --durable"
    "${common[@]}" BENCH_SERVE_ARGS="--spool $work/spool --durable" "$root/bench/serve.sh" \
        >"$work/durable.txt" || die "bench/serve.sh (durable) failed: $(tail -n 20 "$work/durable.txt")"
    local name
    for name in plain durable; do
        for key in requests_per_s events_per_s p50_ms p99_ms cpu_us_per_request peak_rss_mb \
            all_events_upstream upstream_posts cpu_seconds_whole_life loadavg; do
            result[${name}_$key]=$(value_of "$work/$name.txt" "gzip_off_$key")
        done
    done
    result[durable_vs_plain_requests]=$(ratio "${result[durable_requests_per_s]}" \
        "${result[plain_requests_per_s]}" '%.2f')
    # Everything the durable serve acknowledged reached the upstream; the spool is empty again.
    local left
    left=$(find "$work/spool" -maxdepth 1 -name '*.seg' -o -maxdepth 1 -name '*.open' | wc -l)
    result[durable_segments_left]=$left
    [[ ${result[durable_all_events_upstream]} == yes ]] || die "durable: events missing upstream"
}

# --- 1b. durable with --payload-ids preserve ----------------------------------------------------
preserve_part() {
    local common=(env BENCH_BUILD_DIR="$build" BENCH_NO_BUILD=1 BENCH_MODES=gzip_off
        BENCH_DURATION="${BENCH_DURATION:-15s}")
    mkdir -p "$work/preserve-spool"
    log "serve, gzip off, --spool $work/preserve-spool --durable --payload-ids preserve"
    "${common[@]}" BENCH_SERVE_ARGS="--spool $work/preserve-spool --durable --payload-ids preserve" \
        "$root/bench/serve.sh" >"$work/preserve.txt" ||
        die "bench/serve.sh (durable, preserve) failed: $(tail -n 20 "$work/preserve.txt")"
    for key in requests_per_s events_per_s p50_ms p99_ms cpu_us_per_request peak_rss_mb \
        all_events_upstream upstream_posts cpu_seconds_whole_life loadavg; do
        result[preserve_$key]=$(value_of "$work/preserve.txt" "gzip_off_$key")
    done
    if [[ -n ${result[plain_requests_per_s]:-} ]]; then
        result[preserve_vs_plain_requests]=$(ratio "${result[preserve_requests_per_s]}" \
            "${result[plain_requests_per_s]}" '%.2f')
        result[preserve_vs_durable_requests]=$(ratio "${result[preserve_requests_per_s]}" \
            "${result[durable_requests_per_s]}" '%.2f')
    fi
    local left
    left=$(find "$work/preserve-spool" -maxdepth 1 -name '*.seg' -o -maxdepth 1 -name '*.open' | wc -l)
    result[preserve_segments_left]=$left
    [[ ${result[preserve_all_events_upstream]} == yes ]] || die "preserve: events missing upstream"
}

# --- 2. flush throughput ---------------------------------------------------------------------
flush_part() {
    mkdir -p "$out"
    local capture=$out/capture-${size_mb}mb.ndjson
    if [[ ! -s $capture || ! -s $capture.meta ]]; then
        log "generating $capture ($size_mb MiB)"
        timeout "$limit" "$build/bench/bench_gen_capture" --out "$capture.tmp" --mb "$size_mb" \
            >"$capture.meta.tmp"
        mv "$capture.tmp" "$capture"
        mv "$capture.meta.tmp" "$capture.meta"
    fi
    local events lines bytes
    events=$(tr ' ' '\n' <"$capture.meta" | sed -n 's/^events=//p')
    lines=$(tr ' ' '\n' <"$capture.meta" | sed -n 's/^lines=//p')
    bytes=$(tr ' ' '\n' <"$capture.meta" | sed -n 's/^bytes=//p')

    # shellcheck source=bench/nginx_sink.sh
    source "$root/bench/nginx_sink.sh"
    start_nginx_sink "$work/sink"
    local port=$sink_port
    sink_posts() { nginx_sink_posts; }

    run_timed() { # NAME COMMAND...
        local name=$1
        shift
        local before after
        before=$(sink_posts)
        log "$name: $*"
        timeout "$limit" /usr/bin/time -v -o "$work/time-$name.txt" "$@" >"$work/$name.log" 2>&1 ||
            die "$name failed: $(tail -n 5 "$work/$name.log")"
        after=$(sink_posts)
        tail -n 2 "$work/$name.log" >&2
        result[${name}_upstream_posts]=$((after - before - 1))
        result[${name}_seconds]=$(awk '/Elapsed \(wall clock\) time/ { print $NF }' "$work/time-$name.txt" |
            awk -F: '{ s = 0; for (i = 1; i <= NF; ++i) s = s * 60 + $i; printf "%.3f", s }')
        result[${name}_events_per_s]=$(ratio "$events" "${result[${name}_seconds]}" '%.0f')
        result[${name}_mb_per_s]=$(ratio "$((bytes / 1000000))" "${result[${name}_seconds]}" '%.1f')
        result[${name}_peak_rss_mb]=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time-$name.txt" |
            awk '{ printf "%.1f", $1 / 1024 }')
        result[${name}_cpu_seconds]=$(awk -F': ' '/User time|System time/ { t += $2 } END { printf "%.2f", t }' "$work/time-$name.txt")
        result[${name}_loadavg]=$(cut -d' ' -f1 /proc/loadavg)
    }

    # Read once before the clock starts: every command then reads from the page cache (this
    # machine's proactive reclaim evicts a file left unread for a few minutes, and the first
    # timed read would otherwise measure the disk).
    cat "$capture" >/dev/null
    run_timed replay "$evrelay" replay --events-uri "http://127.0.0.1:$port" --sdk-key sdk-bench \
        --no-progress --no-gzip "$capture"
    # The replay that sends what flush sends: each capture line whole, with its payload ID.
    run_timed replay_preserve "$evrelay" replay --events-uri "http://127.0.0.1:$port" \
        --sdk-key sdk-bench --no-progress --no-gzip --payload-ids preserve "$capture"
    # The same lines as closed spool segments of 64 MiB, as a serve would have left them.
    make_spool() { # DIR
        mkdir -p "$1"
        (cd "$1" && split -C 64m -d -a 4 "$capture" part- &&
            for part in part-*; do mv "$part" "20260101T000000.000000Z-1-${part#part-}.seg"; done)
        # Written back before the clock starts: a real spool is written over minutes or hours;
        # 1 GB of dirty pages from `split` would otherwise be flushed to disk during the
        # measurement.
        sync
    }
    local flush_args
    read -r -a flush_args <<<"${BENCH_FLUSH_ARGS:-}"
    make_spool "$work/flush-spool"
    run_timed flush "$evrelay" flush "$work/flush-spool" --events-uri "http://127.0.0.1:$port" \
        --sdk-key sdk-bench --no-progress --no-gzip "${flush_args[@]}"
    result[flush_payloads_expected]=$lines
    [[ ${result[flush_upstream_posts]} == "$lines" ]] ||
        die "flush sent ${result[flush_upstream_posts]} payloads for $lines spool lines"
    [[ -z $(find "$work/flush-spool" -maxdepth 1 -name '*.seg') ]] || die "flush left segments behind"
    rm -rf "$work/flush-spool"
    # --payload-ids new: lines of one destination go out together (as replay re-batches).
    make_spool "$work/flush-new-spool"
    run_timed flush_new "$evrelay" flush "$work/flush-new-spool" \
        --events-uri "http://127.0.0.1:$port" --sdk-key sdk-bench --no-progress --no-gzip \
        --payload-ids new "${flush_args[@]}"
    grep -q "flush: $lines payloads ($events events) delivered" "$work/flush_new.log" ||
        die "flush --payload-ids new did not deliver every line: $(tail -n 1 "$work/flush_new.log")"
    [[ -z $(find "$work/flush-new-spool" -maxdepth 1 -name '*.seg') ]] ||
        die "flush --payload-ids new left segments behind"
    rm -rf "$work/flush-new-spool"
    result[flush_vs_replay_time]=$(ratio "${result[flush_seconds]}" "${result[replay_seconds]}" '%.2f')
    result[flush_vs_replay_preserve_time]=$(ratio "${result[flush_seconds]}" "${result[replay_preserve_seconds]}" '%.2f')
    result[flush_new_vs_replay_time]=$(ratio "${result[flush_new_seconds]}" "${result[replay_seconds]}" '%.2f')
    # CPU per upstream request (the sender's share is most of it: one request per spool line).
    local name
    for name in flush flush_new replay_preserve replay; do
        result[${name}_cpu_us_per_post]=$(awk -v s="${result[${name}_cpu_seconds]}" \
            -v n="${result[${name}_upstream_posts]}" 'BEGIN { if (n > 0) printf "%.1f", s * 1e6 / n; else print "—" }')
    done
    result[events]=$events
    result[capture_bytes]=$bytes
}

for part in "${parts[@]}"; do
    case $part in
    durable) durable_part ;;
    preserve) preserve_part ;;
    flush) flush_part ;;
    *) die "unknown part $part (durable, preserve, flush)" ;;
    esac
done

echo "== results =="
for key in $(printf '%s\n' "${!result[@]}" | sort); do
    echo "$key=${result[$key]}"
done
if [[ -n ${result[durable_vs_plain_requests]:-} ]]; then
    awk -v r="${result[durable_vs_plain_requests]}" 'BEGIN { printf "target durable >= 0.5x plain requests/s: %s (%.2fx)\n", (r >= 0.5 ? "met" : "missed"), r }'
fi
if [[ -n ${result[flush_vs_replay_time]:-} ]]; then
    # The same data sent the same way: re-batched under new IDs, or each line whole under its own.
    awk -v r="${result[flush_new_vs_replay_time]}" 'BEGIN { printf "target flush --payload-ids new <= 1.5x replay time: %s (%.2fx)\n", (r <= 1.5 ? "met" : "missed"), r }'
    awk -v r="${result[flush_vs_replay_preserve_time]}" 'BEGIN { printf "target flush <= 1.5x replay --payload-ids preserve time: %s (%.2fx)\n", (r <= 1.5 ? "met" : "missed"), r }'
    awk -v r="${result[flush_vs_replay_time]}" 'BEGIN { printf "flush (each line its own request) / replay (re-batched): %.2fx\n", r }'
fi
