#!/usr/bin/env bash
# run.sh BUILD_DIR - every benchmark; results land in bench/results/.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
rc=0
for b in "$HERE"/idle.sh "$HERE"/failover.sh "$HERE"/dns.sh "$HERE"/calls.sh "$HERE"/connloss.sh "$HERE"/clock.sh "$HERE"/lines.sh "$HERE"/fleet.sh; do
	echo "=== $(basename "$b")"
	bash "$b" "${1:-build}" || rc=1
done
exit $rc
