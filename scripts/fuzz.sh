#!/usr/bin/env bash
# A longer fuzz campaign of the core reader and the intake than the test run does (test/unit/fuzz.test.ts).
#
#   scripts/fuzz.sh                      50,000 cases, seed from the clock
#   FUZZ_CASES=200000 FUZZ_SEED=42 scripts/fuzz.sh
#   FUZZ_OUT=/var/tmp/fuzz scripts/fuzz.sh   where failing and slow inputs are written
#
# Each case must end in success or a clean CoreFormatError/IntakeError within FUZZ_CASE_MS (2000).
# A failure prints the seed and the case number; the same FUZZ_SEED and FUZZ_CASES reproduce it.
set -euo pipefail
cd "$(dirname "$0")/.."

export FUZZ_CASES="${FUZZ_CASES:-50000}"
export FUZZ_SEED="${FUZZ_SEED:-$(date +%s)}"
export FUZZ_OUT="${FUZZ_OUT:-${TMPDIR:-/tmp}/triage-fuzz}"
export FUZZ_VERBOSE=1
mkdir -p "$FUZZ_OUT"

if [[ ! -f dist/test/unit/fuzz.test.js || "${FUZZ_BUILD:-1}" == 1 ]]; then
  npx tsc -p tsconfig.json || echo "fuzz: tsc reported errors; running what it emitted" >&2
fi

echo "fuzz: ${FUZZ_CASES} cases, seed ${FUZZ_SEED}, inputs of failures in ${FUZZ_OUT}" >&2
exec node --enable-source-maps --test --test-reporter=spec dist/test/unit/fuzz.test.js
