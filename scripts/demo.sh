#!/usr/bin/env bash
# demo.sh BUILD_DIR - `make demo`: two local Kamailio registrars (primary
# 127.0.0.2, backup 127.0.0.3) and sipuad with config/demo.conf; shows the
# lines registering, the daemon's status table and the registrar's own view,
# then stops everything after DEMO_SECONDS (60) or on Ctrl-C.
set -u
BUILD=$(cd "${1:-build}" && pwd)
TOP=$(cd "$(dirname "$0")/.." && pwd)
DEMO_SECONDS=${DEMO_SECONDS:-60}
export SIPUAD_BIN=$BUILD/sipuad SIPUACTL_BIN=$BUILD/sipuactl
FX_TEST=demo
source "$TOP/test/integration/lib.sh"

[[ $(id -u) == 0 ]] || { echo "demo: run as root (the registrars bind port 5060 on 127.0.0.2/3)" >&2; exit 1; }
fx_init
DEMO_DIR=/tmp/sipuad-demo # the paths config/demo.conf names
mkdir -p "$DEMO_DIR"
SIPUAD_SOCK=$DEMO_DIR/sipuad.sock

say() { if [[ -t 1 ]]; then printf '\n\033[1m== %s\033[0m\n' "$*"; else printf '\n== %s\n' "$*"; fi; }
show() {
	"$SIPUACTL_BIN" -s "$SIPUAD_SOCK" status
	for k in primary backup; do
		printf '%s registrar (%s) bindings: ' "$k" "$(kam_addr "$k")"
		kam_contacts "$k" | awk -F'\t' '{ printf "%s%s (expires %s)", n++ ? ", " : "", $1, $2 } END { if (!n) printf "none"; print "" }'
	done
}

say "starting Kamailio registrars: primary 127.0.0.2:5060, backup 127.0.0.3:5060"
kam_start primary 127.0.0.2 demo-pw || fail "primary registrar did not start"
kam_start backup 127.0.0.3 demo-pw || fail "backup registrar did not start"

say "starting sipuad -f -c config/demo.conf (log: $FX_DIR/sipuad.log)"
"$SIPUAD_BIN" -n -c "$TOP/config/demo.conf" || fail "config/demo.conf does not check"
setsid "$SIPUAD_BIN" -f -c "$TOP/config/demo.conf" </dev/null >>"$FX_DIR/sipuad.log" 2>&1 &
SIPUAD_PID=$!
fx_track_group "$SIPUAD_PID"
wait_for 10 "control socket" "$SIPUACTL_BIN" -s "$SIPUAD_SOCK" version || fail "sipuad did not start"
"$SIPUACTL_BIN" -s "$SIPUAD_SOCK" version

registered_all() {
	[[ $("$SIPUACTL_BIN" -s "$SIPUAD_SOCK" -j status | jq '[.lines[] | select(.registered)] | length') == 2 ]]
}
wait_for 10 "both lines registered" registered_all || echo "(not every line registered: see the table)"
say "status after start-up"
show
say "daemon log so far"
cat "$FX_DIR/sipuad.log"

say "watching for ${DEMO_SECONDS} s (Ctrl-C stops earlier); status every 10 s"
end=$((SECONDS + DEMO_SECONDS))
while ((SECONDS < end)); do
	sleep $((end - SECONDS < 10 ? end - SECONDS : 10)) # pacing the display, not synchronisation
	((SECONDS < end)) || break
	say "status at +$((DEMO_SECONDS - (end - SECONDS))) s"
	show
done

say "stopping sipuad (SIGTERM: every line un-REGISTERs first)"
sipuad_stop 6
kam_contacts primary | wc -l | xargs printf 'primary registrar bindings after stop: %s\n'
tail -n 6 "$FX_DIR/sipuad.log"
pass "demo finished"
