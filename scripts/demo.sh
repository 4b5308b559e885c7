#!/usr/bin/env bash
# demo.sh BUILD_DIR - `make demo`: two local Kamailio registrars (primary
# 127.0.0.2, backup 127.0.0.3) and sipuad with config/demo.conf; shows the
# lines registering, then kills the primary (failover), brings it back
# (failback), printing status, history and the registrars' own view at each
# step. A call from line1 to line2 (RULES F) is up when the primary dies: it
# survives the failover, and its BYE reaches line2 through the backup.
# Stops everything DEMO_SECONDS (20) later or on Ctrl-C.
set -u
BUILD=$(cd "${1:-build}" && pwd)
TOP=$(cd "$(dirname "$0")/.." && pwd)
DEMO_SECONDS=${DEMO_SECONDS:-20}
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
		if ! kam_running "$k"; then
			echo "(registrar down)"
			continue
		fi
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

on_server() { # LINE INDEX: the line is registered on server INDEX
	[[ $("$SIPUACTL_BIN" -s "$SIPUAD_SOCK" -j status "$1" | jq -r '"\(.line.state) \(.line.server.index)"') == "registered $2" ]]
}
both_on() { on_server line1 "$1" && on_server line2 "$1"; }
history() {
	for l in line1 line2; do
		echo "history of $l (newest first):"
		"$SIPUACTL_BIN" -s "$SIPUAD_SOCK" history "$l" 6 | sed 's/^/  /'
	done
}

ctl() { "$SIPUACTL_BIN" -s "$SIPUAD_SOCK" "$@"; }
ringing_on_line2() { ctl -j calls | jq -er 'first(.calls[] | select(.line == "line2" and .state == "incoming") | .id)'; }
call_state() { ctl -j calls | jq -r --arg id "$1" '.calls[] | select(.id == $id) | .state'; }
established() { [[ $(call_state "$1") == established ]]; }
no_calls() { [[ $(ctl -j calls | jq '.calls | length') == 0 ]]; }

say "line1 calls line2 (1002) through the primary; line2 answers"
ctl -j subscribe >"$FX_DIR/events.json" 2>/dev/null &
SUB=$!
fx_track "$SUB"
wait_for 5 "the event stream" grep -q '"ok"' "$FX_DIR/events.json" || fail "subscribe"
CALL=$(ctl call line1 1002) || fail "call line1 1002"
echo "call $CALL placed"
wait_for 5 "line2 rings" ringing_on_line2 || fail "line2 does not ring"
IN=$(ringing_on_line2)
ctl answer "$IN" || fail "answer $IN"
wait_for 5 "the call established" established "$CALL" || fail "the call is not established"
ctl calls

say "the primary registrar dies (SIGKILL: its port closes, the kernel answers ICMP unreachable)"
t0=$SECONDS
kam_kill primary
wait_for 30 "both lines on the backup" both_on 1 || echo "(not both on the backup: see below)"
echo "both lines registered on the backup after $((SECONDS - t0)) s (heartbeat every 2 s)"
show
history
say "the call is still up (a registration failover never touches a call)"
established "$CALL" || fail "the call did not survive the failover"
ctl calls

say "line1 hangs up: its BYE finds the primary dead and goes again through the backup"
ctl hangup "$CALL" || fail "hangup $CALL"
wait_for 10 "line2's call closed" no_calls || fail "line2's call is still open: $(ctl -j calls)"
jq -r 'select(.kind == "call") | "\(.call) \(.line) \(.state)\(if .code then " \(.code) \(.reason)" else "" end)"' \
	"$FX_DIR/events.json" 2>/dev/null | sed 's/^/  event: /'
grep -E "call $CALL|BYE" "$FX_DIR/sipuad.log" | tail -n 4 | sed 's/^/  log: /'
fx_stop_pid "$SUB" 2

say "the primary comes back; each line probes it with its own REGISTER every 4-8 s"
t0=$SECONDS
kam_start primary 127.0.0.2 demo-pw || fail "primary registrar did not restart"
wait_for 30 "both lines back on the primary" both_on 0 || echo "(not both back: see below)"
echo "both lines back on the primary after $((SECONDS - t0)) s; the backup bindings are released"
show
history

say "watching for ${DEMO_SECONDS} s more (Ctrl-C stops earlier); status every 10 s"
end=$((SECONDS + DEMO_SECONDS))
while ((SECONDS < end)); do
	sleep $((end - SECONDS < 10 ? end - SECONDS : 10)) # pacing the display, not synchronisation
	((SECONDS < end)) || break
	say "status"
	show
done

say "stopping sipuad (SIGTERM: every line un-REGISTERs first)"
sipuad_stop 6
kam_contacts primary | wc -l | xargs printf 'primary registrar bindings after stop: %s\n'
tail -n 6 "$FX_DIR/sipuad.log"
pass "demo finished"
