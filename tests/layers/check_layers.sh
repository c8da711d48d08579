#!/usr/bin/env bash
# The layer rule of core/ (core/layers.txt, README "Design"), checked on the sources:
# - every folder of core/ has a rule, and core/ itself holds at most four source files;
# - every `#include "core/X/…"` in core/Y/ names Y itself or a folder the rule lets Y use, and
#   nothing in core/ includes cli/ or tests/;
# - each folder's CMakeLists.txt links only the evrelay_* libraries of the folders it may use;
# - simdjson is included only under core/json/, Boost.Beast only under core/server/ (and tests).
# Usage: check_layers.sh [SOURCE_ROOT]. Prints every violation as FILE:LINE: what; exits 1 if any.
set -uo pipefail

root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
rules=$root/core/layers.txt
[[ -f $rules ]] || {
    echo "check_layers: $rules: missing" >&2
    exit 2
}

declare -A allowed
while IFS= read -r line; do
    line=${line%%#*}
    [[ $line =~ ^[[:space:]]*$ ]] && continue
    if [[ ! $line =~ ^([a-z_]+):(.*)$ ]]; then
        echo "check_layers: $rules: cannot read rule \"$line\"" >&2
        exit 2
    fi
    allowed[${BASH_REMATCH[1]}]=" ${BASH_REMATCH[2]} "
done <"$rules"

violations=0
violation() {
    echo "$1" >&2
    violations=$((violations + 1))
}

may_use() { # FOLDER TARGET_FOLDER
    [[ $1 == "$2" || ${allowed[$1]} == *" $2 "* ]]
}

top_sources=$(find "$root/core" -maxdepth 1 -name '*.cpp' -o -maxdepth 1 -name '*.hpp' | wc -l)
((top_sources <= 4)) || violation "core/: $top_sources source files at the top (at most 4)"

for dir in "$root"/core/*/; do
    folder=$(basename "$dir")
    if [[ -z ${allowed[$folder]+set} ]]; then
        violation "core/$folder/: no rule in core/layers.txt"
        continue
    fi
    while IFS= read -r -d '' file; do
        rel=${file#"$root"/}
        # grep -n prints LINE:TEXT for each include of the project's own headers.
        while IFS=: read -r number text; do
            [[ -z $number ]] && continue
            if [[ $text =~ \#include[[:space:]]*\"core/([a-z_]+)/ ]]; then
                target=${BASH_REMATCH[1]}
                may_use "$folder" "$target" ||
                    violation "$rel:$number: core/$folder may not include core/$target (core/layers.txt)"
            elif [[ $text =~ \#include[[:space:]]*\"(cli|tests|bench)/ ]]; then
                violation "$rel:$number: core/ may not include ${BASH_REMATCH[1]}/"
            elif [[ $text =~ \#include[[:space:]]*\<simdjson && $folder != json ]]; then
                violation "$rel:$number: simdjson is included only under core/json/"
            elif [[ $text =~ \#include[[:space:]]*\<boost/beast && $folder != server ]]; then
                violation "$rel:$number: Boost.Beast is included only under core/server/"
            fi
        done < <(grep -nE '^[[:space:]]*#[[:space:]]*include' "$file")
    done < <(find "$dir" -type f \( -name '*.cpp' -o -name '*.hpp' \) -print0)

    cmake_file=$dir/CMakeLists.txt
    if [[ ! -f $cmake_file ]]; then
        violation "core/$folder/: no CMakeLists.txt (each folder is its own library)"
        continue
    fi
    while IFS=: read -r number text; do
        for word in $text; do
            [[ $word =~ ^evrelay_([a-z_]+)\)?$ ]] || continue
            target=${BASH_REMATCH[1]}
            may_use "$folder" "$target" ||
                violation "core/$folder/CMakeLists.txt:$number: links evrelay_$target, which core/$folder may not use"
        done
    done < <(grep -n 'target_link_libraries' "$cmake_file")
done

# Outside core/: simdjson and Beast stay in their folders (tests and bench tools are exempt).
while IFS=: read -r file number _; do
    violation "${file#"$root"/}:$number: simdjson is included only under core/json/"
done < <(grep -rnE '#[[:space:]]*include[[:space:]]*<simdjson' "$root/cli" 2>/dev/null)

if ((violations > 0)); then
    echo "check_layers: $violations violation(s) of the layer rule" >&2
    exit 1
fi
echo "check_layers: every include and link of core/ follows core/layers.txt"
