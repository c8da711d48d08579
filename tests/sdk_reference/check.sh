#!/bin/sh
# Runs every scenario through the real SDK (sdk_events.js) and checks what it printed: a non-empty
# JSON array holding a summary event, whose event kinds are the scenario's "expectKinds" in order;
# and a non-empty schema-2 input array. This keeps the reference itself honest: a scenario that no
# longer shows what its description says (an SDK update, a broken harness) fails here before any
# comparison with evrelay relies on it.
# Usage: check.sh [SCENARIO.json…]   (default: scenarios/*.json beside this script)
# Exit status: 0 all good, 1 a scenario failed, 77 node is not installed (ctest: skipped).
set -eu

here=$(cd "$(dirname "$0")" && pwd)

if ! command -v node >/dev/null 2>&1; then
	echo "SKIPPED: node is not installed, so the LaunchDarkly SDK reference cannot run (make deps installs nodejs and npm)"
	exit 77
fi
if [ ! -d "$here/node_modules/@launchdarkly/node-server-sdk" ]; then
	echo "FAILED: $here/node_modules has no @launchdarkly/node-server-sdk: run 'make deps' (or 'npm ci --no-audit --no-fund' in $here)"
	exit 1
fi

if [ "$#" -eq 0 ]; then
	set -- "$here"/scenarios/*.json
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

passed=0
failed=0
for scenario in "$@"; do
	name=$(basename "$scenario" .json)
	if ! node "$here/sdk_events.js" --inputs "$scratch/$name.inputs.json" "$scenario" \
		>"$scratch/$name.out.json" 2>"$scratch/$name.err"; then
		echo "FAIL $name: sdk_events.js failed:"
		sed 's/^/    /' "$scratch/$name.err"
		failed=$((failed + 1))
		continue
	fi
	if verdict=$(node - "$scenario" "$scratch/$name.out.json" "$scratch/$name.inputs.json" <<'EOF'
const fs = require('fs');
const [scenarioFile, outFile, inputsFile] = process.argv.slice(2);
const problems = [];
const readJson = (file, what) => {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    problems.push(`${what} is not JSON: ${e.message}`);
    return undefined;
  }
};
const scenario = readJson(scenarioFile, 'the scenario');
const body = readJson(outFile, 'the posted body');
const inputs = readJson(inputsFile, 'the --inputs file');
if (body !== undefined) {
  if (!Array.isArray(body) || body.length === 0) problems.push('the posted body is not a non-empty array');
  else {
    const kinds = body.map((e) => e.kind);
    if (!kinds.includes('summary')) problems.push(`no summary event (kinds: ${kinds.join(' ')})`);
    const expected = scenario && scenario.expectKinds;
    if (!Array.isArray(expected)) problems.push('the scenario has no "expectKinds" array');
    else if (kinds.join(' ') !== expected.join(' ')) {
      problems.push(`event kinds are [${kinds.join(' ')}], the scenario expects [${expected.join(' ')}]`);
    }
  }
}
if (inputs !== undefined && (!Array.isArray(inputs) || inputs.length === 0)) {
  problems.push('the schema-2 inputs are not a non-empty array');
}
if (problems.length) {
  console.log(problems.join('; '));
  process.exit(1);
}
EOF
	); then
		echo "ok   $name"
		passed=$((passed + 1))
	else
		echo "FAIL $name: $verdict"
		failed=$((failed + 1))
	fi
done

if [ "$failed" -eq 0 ]; then
	echo "sdk_reference: all $passed scenarios as expected"
else
	echo "sdk_reference: $failed of $((passed + failed)) scenarios failed"
	exit 1
fi
