#!/usr/bin/env bash
# Runs fuzz targets one after another, each for SECONDS, from its committed seed corpus:
#
#   tests/fuzz/run_fuzz.sh BUILD_DIR SECONDS [TARGET...]    (default: every fuzz_* target built)
#
# BUILD_DIR is a build configured with -DEVRELAY_FUZZ=ON (`make fuzz-smoke` makes build-fuzz/).
# The committed corpus tests/fuzz/corpus/<target without fuzz_>/ is only read: what a run finds
# new goes to BUILD_DIR/fuzz-out/<target>/corpus/, a crashing input to
# BUILD_DIR/fuzz-out/<target>/crash-*, the whole libFuzzer output to BUILD_DIR/fuzz-out/<target>.log.
# Prints one line per target (executions, coverage, new corpus units) and, for a target that
# fails, the end of its log and how to reproduce. Exit status: 0 when no target failed, 1 otherwise.
# One job at a time (-jobs=1): the machine's 2 cores are shared.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[[ $# -ge 2 ]] || {
    echo "usage: $0 BUILD_DIR SECONDS [TARGET...]" >&2
    exit 2
}
build=$(cd "$1" && pwd)
seconds=$2
shift 2
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    for source in "$root"/tests/fuzz/fuzz_*.cpp; do
        targets+=("$(basename "$source" .cpp)")
    done
fi

failed=0
for target in "${targets[@]}"; do
    binary=$build/tests/fuzz/$target
    [[ -x $binary ]] || {
        echo "$target: not built ($binary)" >&2
        failed=1
        continue
    }
    seeds=$root/tests/fuzz/corpus/${target#fuzz_}
    out=$build/fuzz-out/$target
    rm -rf "$out"
    mkdir -p "$out/corpus"
    log=$out.log
    started=$(date +%s)
    # -timeout: one input may take at most 10 s (a hang is a finding); -rss_limit_mb: a leak or an
    # unbounded buffer is one too. The committed seeds are read; new units go to $out/corpus.
    status=0
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
        "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2560 -print_final_stats=1 \
        -artifact_prefix="$out/" "$out/corpus" "$seeds" >"$log" 2>&1 || status=$?
    elapsed=$(($(date +%s) - started))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    coverage=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | grep -oE 'cov: [0-9]+ ft: [0-9]+' || true)
    units=$(find "$out/corpus" -type f | wc -l)
    if [[ $status -ne 0 ]]; then
        failed=1
        echo "$target: FAILED after ${elapsed}s (exit $status); log: $log"
        tail -n 40 "$log"
        for crash in "$out"/crash-* "$out"/timeout-* "$out"/oom-* "$out"/leak-*; do
            [[ -e $crash ]] && echo "  reproduce: $binary $crash"
        done
    else
        echo "$target: ${elapsed}s, ${runs:-?} runs, ${coverage:-cov: ?}, $units new units"
    fi
done
exit $failed
