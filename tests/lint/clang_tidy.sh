#!/usr/bin/env bash
# clang-tidy over the project's sources with the checks of .clang-tidy; fails on any finding.
#
#   tests/lint/clang_tidy.sh BUILD_DIR [FILE...]
#
# BUILD_DIR is a configured build (its compile_commands.json; nothing needs to be built). Without
# FILEs: every .cpp under cli/, core/, tests/support/ and bench/tools/ (their headers through
# .clang-tidy's HeaderFilterRegex). Runs $TIDY_JOBS (default: nproc) clang-tidy processes at once.
# Prints each finding once (a header's finding shows up in every file that includes it), then a
# count per check. Exit status: 0 when there is no finding, 1 when there are, 2 when clang-tidy
# could not run.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[[ $# -ge 1 ]] || {
    echo "usage: $0 BUILD_DIR [FILE...]" >&2
    exit 2
}
build=$(cd "$1" && pwd)
shift
[[ -f $build/compile_commands.json ]] || {
    echo "$0: no $build/compile_commands.json (configure the build first)" >&2
    exit 2
}
tidy=${CLANG_TIDY:-$(command -v clang-tidy || command -v clang-tidy-14 || true)}
[[ -n $tidy ]] || {
    echo "$0: clang-tidy is missing (apt-get install clang-tidy)" >&2
    exit 2
}
jobs=${TIDY_JOBS:-$(nproc)}

cd "$root"
if [[ $# -gt 0 ]]; then
    files=("$@")
else
    mapfile -t files < <(find cli core tests/support bench/tools -name '*.cpp' | sort)
fi
out=$(mktemp -d /tmp/evrelay-tidy.XXXXXX)
trap 'rm -rf "$out"' EXIT

# One clang-tidy per file, each writing its own output; -Wno-error: the compiler's warnings are
# the build's business (-Werror there), only the checks of .clang-tidy count here.
# shellcheck disable=SC2016 # the inner script's $1..$3 are its own arguments
printf '%s\0' "${files[@]}" | xargs -0 -P "$jobs" -I{} sh -c '
    log=$2/$(printf "%s" "$3" | tr / _)
    "$1" -p "$0" --quiet --extra-arg=-Wno-error "$3" >"$log.out" 2>"$log.err"
    echo $? >"$log.rc"' "$build" "$tidy" "$out" {}

# Each finding (its first line and the lines up to the next finding: code, notes) once.
report=$out/report
for f in "$out"/*.out; do
    cat "$f"
done | awk -v root="$root/" '
    index($0, root) == 1 { $0 = substr($0, length(root) + 1) }
    /^[^ ].*:[0-9]+:[0-9]+: (warning|error): / {
        check = $NF
        gsub(/^\[|,-warnings-as-errors|\]$/, "", check)
        where = $0
        sub(/: (warning|error): .*/, "", where)
        # Once per place and check (a template reports once per instantiation, too).
        keep = !seen[where " " check]++
        if (keep) {
            findings++
            count[check]++
        }
    }
    keep { print }
    END {
        if (findings > 0) {
            printf "\n%d findings, by check:\n", findings
            fflush()
            for (c in count) printf "%6d %s\n", count[c], c | "sort -rn"
            close("sort -rn")
        }
    }' >"$report"

# A clang-tidy that failed without a finding (it crashed, or could not read its file).
broken=0
for rc in "$out"/*.rc; do
    base=${rc%.rc}
    if [[ $(cat "$rc") != 0 ]] && [[ ! -s $base.out ]]; then
        echo "clang-tidy failed on ${base##*/}:" >&2
        cat "$base.err" >&2
        broken=1
    fi
done

cat "$report"
if [[ $broken == 1 ]]; then
    exit 2
fi
if [[ -s $report ]]; then
    echo "clang-tidy: findings in ${#files[@]} files checked (.clang-tidy)" >&2
    exit 1
fi
echo "clang-tidy: no findings in ${#files[@]} files" >&2
