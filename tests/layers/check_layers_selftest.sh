#!/usr/bin/env bash
# Shows that check_layers.sh fails on what it must catch: runs it on a scratch copy of core/
# into which one violation at a time is put, and expects exit 1 and the violation named.
set -uo pipefail

root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
check=$root/tests/layers/check_layers.sh
scratch=$(mktemp -d /tmp/evrelay-layers.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
failures=0

fresh_copy() {
    rm -rf "$scratch/tree" && mkdir -p "$scratch/tree" && cp -r "$root/core" "$scratch/tree/core"
}

expect() { # NAME EXPECTED_EXIT EXPECTED_TEXT
    local output status
    output=$("$check" "$scratch/tree" 2>&1)
    status=$?
    if [[ $status != "$2" || $output != *"$3"* ]]; then
        echo "FAIL $1: exit $status, expected $2 with \"$3\"; output:" >&2
        echo "$output" >&2
        failures=$((failures + 1))
    else
        echo "ok   $1"
    fi
}

fresh_copy
expect "the tree as it is passes" 0 "follows core/layers.txt"

fresh_copy
echo '#include "core/server/http_server.hpp"' >>"$scratch/tree/core/model/endpoint.hpp"
expect "model including server fails" 1 "core/model/endpoint.hpp:"

fresh_copy
echo '#include "core/replay/replay_job.hpp"' >>"$scratch/tree/core/spool/spool_delivery.cpp"
expect "spool including replay (sideways) fails" 1 "core/spool may not include core/replay"

fresh_copy
echo '#include <simdjson.h>' >>"$scratch/tree/core/inbound/cors.cpp"
expect "simdjson outside core/json fails" 1 "simdjson is included only under core/json/"

fresh_copy
echo 'target_link_libraries(evrelay_pipeline PUBLIC evrelay_spool)' >>"$scratch/tree/core/pipeline/CMakeLists.txt"
expect "linking an upper library fails" 1 "links evrelay_spool"

fresh_copy
mkdir "$scratch/tree/core/newfolder" && echo '' >"$scratch/tree/core/newfolder/x.cpp"
expect "a folder without a rule fails" 1 "core/newfolder/: no rule"

fresh_copy
echo '#include "cli/exit_status.hpp"' >>"$scratch/tree/core/util/fd.hpp"
expect "core including cli fails" 1 "may not include cli/"

echo "$((7 - failures)) passed, $failures failed"
((failures == 0))
