#!/bin/sh
# run.sh FUZZER SECONDS [SEEDS] - run a fuzzer from SEEDS (default seeds/,
# the control parser's) for a bounded time, in a scratch corpus (the repo's
# seeds stay as they are).
# Ends with "fuzz: 1 passed, 0 failed" or "fuzz: 0 passed, 1 failed".
set -u
fuzzer=$1
seconds=${2:-60}
seeds=${3:-$(dirname "$0")/seeds}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp "$seeds"/* "$dir/"
if "$fuzzer" -max_total_time="$seconds" -max_len=8192 -timeout=5 -rss_limit_mb=1024 \
	-artifact_prefix="$dir/" -print_final_stats=1 "$dir" >"$dir/log" 2>&1; then
	grep -E '^(Done|stat::number_of_executed_units)' "$dir/log"
	echo "fuzz: 1 passed, 0 failed"
else
	tail -n 40 "$dir/log"
	for a in "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-*; do
		[ -e "$a" ] && { echo "reproducer ($a):"; od -c "$a" | head -20; }
	done
	echo "fuzz: 0 passed, 1 failed"
	exit 1
fi
