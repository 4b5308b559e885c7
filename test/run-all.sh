#!/bin/sh
# run-all.sh - the whole suite behind `make test`: unit tests, config golden
# tests, the integration suite on the normal build, a short libFuzzer run on
# the control parser, and the integration suite on an ASan+UBSan build.
# Ends with one summary line adding up every suite.
set -u
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
total_pass=0
total_fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# run NAME CMD...: run a suite, show its output, add its "N passed, N failed".
run() {
	name=$1
	shift
	echo "=== $name"
	"$@" 2>&1 | tee "$log"
	line=$(grep -E '^[a-z-]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -z "$line" ]; then
		echo "$name: no summary line (did not run): counted as 1 failure"
		total_fail=$((total_fail + 1))
		return
	fi
	p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
	f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
}

build() {
	if "$@"; then
		echo "build: 1 passed, 0 failed"
	else
		echo "build: 0 passed, 1 failed"
	fi
}

run build build $MAKE -s all build/unit-tests
run unit ./build/unit-tests
run config sh test/config/run.sh build/sipuad
run integration bash test/integration/run.sh build
run fuzz $MAKE -s fuzz FUZZ_SECONDS=10
run build-asan build $MAKE -s BUILD=build-asan SAN=1 all
run integration-asan bash test/integration/run.sh build-asan

echo
echo "test: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
