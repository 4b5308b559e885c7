#!/bin/sh
# run-all.sh - the whole suite behind `make test`: unit tests, config golden
# tests, the integration suite on the normal build, short libFuzzer runs on
# the control parser and the SDP reader, and (at the same time, on other loopback addresses)
# the integration suite on an ASan+UBSan build.
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
		return 1
	fi
}

# asan_half: the sanitizer build and its integration suite, on loopback
# addresses of their own (127.0.9.x) so they can run beside the normal
# suite: the tests mostly wait on timers, and two cores halve the wall time.
asan_half() {
	build $MAKE -s BUILD=build-asan SAN=1 all && echo "=== integration-asan" &&
		FX_IP_PREFIX=127.0.9. bash test/integration/run.sh build-asan
}

run build build $MAKE -s all build/unit-pure build/unit-tests
run unit-pure ./build/unit-pure
run unit ./build/unit-tests
run config sh test/config/run.sh build/sipuad
run deps sh test/deps/run.sh
run ship sh test/ship/run.sh build
run cross sh scripts/cross.sh armhf
asan_log=$(mktemp)
trap 'rm -f "$log" "$asan_log"' EXIT
asan_half >"$asan_log" 2>&1 &
asan_pid=$!
run integration bash test/integration/run.sh build
run fuzz-ctl $MAKE -s fuzz-ctl FUZZ_SECONDS=10
run fuzz-sdp $MAKE -s fuzz-sdp FUZZ_SECONDS=10
run fuzz-tlsdiag $MAKE -s fuzz-tlsdiag FUZZ_SECONDS=10
wait "$asan_pid"
# Its output, now that it is complete; both of its summary lines count.
echo "=== build-asan"
cat "$asan_log"
for name in build integration; do
	line=$(grep -E "^$name: [0-9]+ passed, [0-9]+ failed" "$asan_log" | tail -n 1)
	if [ -z "$line" ]; then
		echo "$name-asan: no summary line (did not run): counted as 1 failure"
		total_fail=$((total_fail + 1))
		continue
	fi
	total_pass=$((total_pass + $(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')))
	total_fail=$((total_fail + $(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')))
done

echo
echo "test: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
