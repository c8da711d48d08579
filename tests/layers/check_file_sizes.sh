#!/usr/bin/env bash
# No source file in cli/ or core/ over 700 lines (issue 10: one concept a file, readable whole).
set -uo pipefail
root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
limit=700
over=0
while IFS= read -r -d '' file; do
    lines=$(wc -l <"$file")
    if ((lines > limit)); then
        echo "${file#"$root"/}: $lines lines (at most $limit)" >&2
        over=$((over + 1))
    fi
done < <(find "$root/cli" "$root/core" -type f \( -name '*.cpp' -o -name '*.hpp' \) -print0)
((over == 0)) && echo "check_file_sizes: every source file in cli/ and core/ has at most $limit lines"
((over == 0))
