#!/bin/sh
# ctest sdk_comparison: compare.js (evrelay's summarised output against the LaunchDarkly Node SDK's,
# field by field, every scenario). Only here so that a machine without node skips the test (77)
# instead of failing on a missing interpreter; `make deps` installs node and the SDK.
# Usage: compare.sh EVRELAY_BINARY [compare.js options and scenarios…]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ "$#" -lt 1 ]; then
	echo "usage: compare.sh EVRELAY_BINARY [compare.js options…]" >&2
	exit 2
fi
if ! command -v node >/dev/null 2>&1; then
	echo "SKIPPED: node is not installed, so the LaunchDarkly SDK comparison cannot run (make deps installs nodejs and npm)"
	exit 77
fi
evrelay=$1
shift
exec node "$here/compare.js" --evrelay "$evrelay" "$@"
