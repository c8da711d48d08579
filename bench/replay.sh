#!/usr/bin/env bash
# Replay benchmark (bench/README.md): generates a ~1 GB capture of realistic events once, replays
# it with `evrelay replay` to a local nginx that reads and discards bodies, gzip off and on, and
# measures libdeflate alone on the same bytes and the publisher's queue memory per event.
#
# Environment (all optional):
#   BENCH_BUILD_DIR   build directory (default build-bench; configured RelWithDebInfo if missing)
#   BENCH_OUT         where the generated inputs live (default bench/out, gitignored)
#   BENCH_MB          input size in MiB (default 1024)
#   BENCH_GZIP_LEVEL  gzip level for the replay and libdeflate alone (default 6, evrelay's default)
#   BENCH_NDJSON      1 (default): also replay the same events as NDJSON, gzip off (Relay's input)
#   BENCH_QUEUE_EVENTS events for bench_queue_memory (default 200000)
#   BENCH_SINK        nginx (default) or bench_sink: the upstream that reads and discards bodies
#   BENCH_TIMEOUT     seconds allowed for each command (default 900)
#   BENCH_NO_BUILD    1: do not build, use what is in the build directory
#   BENCH_PERF        1: record each replay with `perf record -g` into $BENCH_OUT/perf-*.data
#
# Output: the commands' logs on stderr, then a "== results ==" block of key=value lines and a
# markdown table row for bench/README.md on stdout.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BENCH_BUILD_DIR:-$root/build-bench}
out=${BENCH_OUT:-$root/bench/out}
size_mb=${BENCH_MB:-1024}
level=${BENCH_GZIP_LEVEL:-6}
with_ndjson=${BENCH_NDJSON:-1}
queue_events=${BENCH_QUEUE_EVENTS:-200000}
limit=${BENCH_TIMEOUT:-900}
sink=${BENCH_SINK:-nginx}
tools=(bench_gen_capture bench_deflate bench_queue_memory bench_sink)

log() { printf '[bench] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

work=$(mktemp -d /tmp/evrelay-bench.XXXXXX)
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

# --- build -------------------------------------------------------------------------------
if [[ ${BENCH_NO_BUILD:-0} != 1 ]]; then
    if [[ ! -f $build/CMakeCache.txt ]]; then
        log "configuring $build (RelWithDebInfo)"
        timeout "$limit" cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DEVRELAY_TESTS=OFF >&2
    fi
    log "building evrelay and the bench tools"
    timeout "$limit" cmake --build "$build" --target evrelay "${tools[@]}" -- -j2 >&2
fi
evrelay=$build/evrelay
for tool in "$evrelay" "${tools[@]/#/$build/bench/}"; do
    [[ -x $tool ]] || die "$tool is missing (build it, or unset BENCH_NO_BUILD)"
done
command -v /usr/bin/time >/dev/null || die "/usr/bin/time is missing (apt-get install -y time)"

# --- inputs (generated once, reused) -------------------------------------------------------
mkdir -p "$out"
generate() { # FILE [--ndjson]
    local file=$1
    shift
    if [[ -s $file && -s $file.meta ]]; then
        log "reusing $file"
        return
    fi
    log "generating $file ($size_mb MiB)"
    timeout "$limit" "$build/bench/bench_gen_capture" --out "$file.tmp" --mb "$size_mb" "$@" \
        >"$file.meta.tmp"
    mv "$file.tmp" "$file"
    mv "$file.meta.tmp" "$file.meta"
}
meta() { # FILE KEY
    tr ' ' '\n' <"$1.meta" | sed -n "s/^$2=//p"
}
capture=$out/capture-${size_mb}mb.ndjson
ndjson=$out/events-${size_mb}mb.ndjson
generate "$capture"
[[ $with_ndjson == 1 ]] && generate "$ndjson" --ndjson

# --- the sink --------------------------------------------------------------------------------
# nginx (bench/nginx-sink.conf) by default; BENCH_SINK=bench_sink uses bench/tools/bench_sink.cpp.
mkdir -p "$work/sink"
if [[ $sink == nginx ]]; then
    # shellcheck source=bench/nginx_sink.sh
    source "$root/bench/nginx_sink.sh"
    start_nginx_sink "$work/sink"
    port=$sink_port
    status_path=/nginx_status
else
    "$build/bench/bench_sink" >"$work/sink/port" 2>"$work/sink/stderr.log" &
    sink_pid=$!
    for _ in $(seq 50); do
        grep -q '^port=' "$work/sink/port" && break
        sleep 0.1
    done
    port=$(sed -n 's/^port=//p' "$work/sink/port")
    status_path=/stats
fi
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port$status_path" && break
    kill -0 "$sink_pid" 2>/dev/null ||
        die "$sink exited: $(cat "$work/sink/stderr.log" "$work/sink/error.log" 2>/dev/null)"
    sleep 0.1
done
# POSTs the sink has answered so far (nginx counts its own status requests too).
sink_posts() {
    local text
    text=$(curl -s --max-time 5 "http://127.0.0.1:$port$status_path")
    if [[ $sink == nginx ]]; then
        awk 'NR == 3 { print $3 }' <<<"$text"
    else
        sed -n 's/^requests=\([0-9]*\).*/\1/p' <<<"$text"
    fi
}
# CPU seconds used so far by the sink's processes (nginx: master and worker).
sink_cpu() {
    local pids
    pids="$sink_pid $(pgrep -P "$sink_pid" | tr '\n' ' ')"
    for pid in $pids; do cat "/proc/$pid/stat" 2>/dev/null; done |
        awk -v hz="$(getconf CLK_TCK)" '{ t += $14 + $15 } END { printf "%.2f", t / hz }'
}
# The sink must consume whole bodies and keep the connection: two 64 MB POSTs on one
# connection both answered 202, the second without a new connection.
head -c $((64 << 20)) /dev/zero >"$work/post.bin"
check='%{http_code}/%{num_connects} '
codes=$(timeout 60 curl -s -o /dev/null -w "$check" --data-binary @"$work/post.bin" \
    "http://127.0.0.1:$port/bulk" --next -s -o /dev/null -w "$check" \
    --data-binary @"$work/post.bin" "http://127.0.0.1:$port/bulk")
[[ $codes == "202/1 202/0 " ]] ||
    die "the sink answered '$codes' (status/new connections) to two 64 MB POSTs"
rm -f "$work/post.bin"
log "sink: $sink on 127.0.0.1:$port (pid $sink_pid) reads and discards bodies"

load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# --- replays -----------------------------------------------------------------------------------
declare -A result
elapsed_seconds() { # "h:mm:ss" or "m:ss.ss" → seconds
    awk -F: '{ s = 0; for (i = 1; i <= NF; ++i) s = s * 60 + $i; printf "%.3f", s }' <<<"$1"
}
replay() { # NAME FILE EXTRA-ARGS...
    local name=$1 file=$2
    shift 2
    local before after sink_cpu_before status=0
    # Read once before the clock starts, so the replay reads from the page cache (this machine's
    # proactive reclaim evicts a file left unread for a few minutes; the timed read would
    # otherwise measure the disk).
    cat "$file" >/dev/null
    before=$(sink_posts)
    sink_cpu_before=$(sink_cpu)
    log "replay $name: $(basename "$file") $*"
    local prefix=()
    if [[ ${BENCH_PERF:-0} == 1 ]]; then
        prefix=(perf record -g -o "$out/perf-$name.data" --)
    fi
    timeout "$limit" /usr/bin/time -v -o "$work/time-$name.txt" "${prefix[@]}" "$evrelay" replay \
        --events-uri "http://127.0.0.1:$port" --sdk-key sdk-bench --no-progress \
        "$@" "$file" >"$work/replay-$name.log" 2>&1 || status=$?
    after=$(sink_posts)
    result[${name}_sink_cpu_seconds]=$(awk -v a="$(sink_cpu)" -v b="$sink_cpu_before" 'BEGIN { printf "%.2f", a - b }')
    tail -n 5 "$work/replay-$name.log" >&2
    [[ $status == 0 ]] || die "replay $name exited with status $status (log above)"
    local wall rss events bytes event_bytes
    wall=$(elapsed_seconds "$(awk '/Elapsed \(wall clock\) time/ { print $NF }' "$work/time-$name.txt")")
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time-$name.txt")
    events=$(meta "$file" events)
    bytes=$(meta "$file" bytes)
    event_bytes=$(meta "$file" event_bytes)
    result[${name}_seconds]=$wall
    result[${name}_events]=$events
    result[${name}_events_per_s]=$(awk -v e="$events" -v s="$wall" 'BEGIN { printf "%.0f", e / s }')
    result[${name}_mb_per_s]=$(awk -v b="$bytes" -v s="$wall" 'BEGIN { printf "%.1f", b / 1e6 / s }')
    result[${name}_event_mb_per_s]=$(awk -v b="$event_bytes" -v s="$wall" 'BEGIN { printf "%.1f", b / 1e6 / s }')
    result[${name}_peak_rss_mb]=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')
    result[${name}_cpu_percent]=$(sed -n 's/.*Percent of CPU this job got: //p' "$work/time-$name.txt" | tr -d '%')
    local own=0 # nginx counts the status request that read `before`
    [[ $sink == nginx ]] && own=1
    result[${name}_upstream_posts]=$((after - before - own))
    result[${name}_cpu_seconds]=$(awk -F': ' '/User time|System time/ { t += $2 } END { printf "%.2f", t }' "$work/time-$name.txt")
}

replay gzip_off "$capture" --no-gzip
replay gzip_on "$capture" --gzip-level "$level"
[[ $with_ndjson == 1 ]] && replay ndjson_gzip_off "$ndjson" --format ndjson --no-gzip

# --- libdeflate alone and queue memory -------------------------------------------------------
log "libdeflate alone, level $level, on $(basename "$capture")"
timeout "$limit" "$build/bench/bench_deflate" --level "$level" "$capture" >"$work/deflate.txt"
log "publisher queue memory, $queue_events events"
timeout "$limit" "$build/bench/bench_queue_memory" --events "$queue_events" >"$work/queue.txt"
while IFS='=' read -r key value; do
    result[$key]=$value
done < <(cat "$work/deflate.txt" "$work/queue.txt")
result[gzip_on_vs_deflate]=$(awk -v r="${result[gzip_on_events_per_s]}" \
    -v d="${result[deflate_events_per_s]}" 'BEGIN { printf "%.2f", r / d }')

# --- report ------------------------------------------------------------------------------------
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
date=$(date -u +%Y-%m-%d)
{
    echo "== results =="
    echo "date=$date"
    echo "nproc=$(nproc)"
    echo "cpu=$cpu"
    echo "commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "sink=$sink"
    # Other work on the machine steals cores from the replay: compare runs at similar load.
    echo "loadavg_start=$load_start"
    echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "input_mb=$size_mb"
    echo "gzip_level=$level"
    for key in $(printf '%s\n' "${!result[@]}" | sort); do
        echo "$key=${result[$key]}"
    done
    echo
    echo "| date | nproc | CPU | load | gzip off events/s | MB/s | peak RSS MB | gzip $level events/s | MB/s | peak RSS MB | libdeflate $level MB/s | on ÷ libdeflate | queue bytes ÷ raw (arena / RSS) |"
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s |\n' \
        "$date" "$(nproc)" "$cpu" "${load_start%% *}" \
        "${result[gzip_off_events_per_s]}" "${result[gzip_off_mb_per_s]}" "${result[gzip_off_peak_rss_mb]}" \
        "${result[gzip_on_events_per_s]}" "${result[gzip_on_mb_per_s]}" "${result[gzip_on_peak_rss_mb]}" \
        "${result[deflate_mb_per_s]}" "${result[gzip_on_vs_deflate]}" \
        "${result[queue_arena_ratio]}" "${result[queue_rss_ratio]}"
}
