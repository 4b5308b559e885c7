#!/usr/bin/env bash
# RULES F.7: the media hook runs per call state change as `HOOK CALL STATE`
# with the CALL fields in SIPUAD_* variables (the negotiated media once
# there is one); it never blocks the loop: a hook that sleeps 60 s is
# killed at 10 s while the daemon answers `status` at once and the calls
# go on; a missing hook is logged, not fatal.
# fx-timeout: 90
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_calls.sh"
fx_init
A=$(fx_ip 1)
kam_start a "$A" || fail "kamailio a"
HD=$FX_DIR/hook
mkdir -p "$HD"
printf '#!/bin/sh\nenv | grep "^SIPUAD_" | sort >"%s/$1.$2"\n[ -e "%s/sleep" ] && exec sleep 60\nexit 0\n' \
	"$HD" "$HD" >"$FX_DIR/hook.sh"
chmod +x "$FX_DIR/hook.sh"
conf() {
	{
		sipuad_conf_common 100
		echo "media = { rtp_ports = [ 20000, 20100 ]; hook = \"$1\"; };"
		echo "lines = ("
		sipuad_conf_calls_line la 6001 "{ host = \"$A\"; expires = 60; }"
		echo ","
		sipuad_conf_calls_line lb 6002 "{ host = \"$A\"; expires = 60; }"
		echo ");"
	} >"$FX_DIR/sipuad.conf"
}
conf "$FX_DIR/hook.sh"
sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "la registered" sipuad_on la 0 || fail "la: $(sipuad_line_json la)"
wait_for 5 "lb registered" sipuad_on lb 0 || fail "lb: $(sipuad_line_json lb)"

# 1. one run per state, the fields in the environment
c1=$(sipuad_call la 6002) || fail "call"
wait_for 5 "lb rings" sipuad_incoming lb >/dev/null || fail "no incoming"
c2=$(sipuad_incoming lb)
sipuactl_j answer "$c2" >/dev/null || fail "answer"
wait_for 5 "established" sipuad_call_is "$c1" .state established || fail "$(sipuactl_j calls)"
ma=$(sipuad_call_field "$c1" .media)
sipuactl_j hangup "$c1" >/dev/null || fail "hangup"
wait_for 5 "closed hooks ran" test -s "$HD/$c1.closed" -a -s "$HD/$c2.closed" || fail "hooks: $(ls "$HD")"
for s in calling ringing established closed; do
	[[ -s $HD/$c1.$s ]] || fail "no hook run for $c1 $s: $(ls "$HD")"
done
for s in incoming established closed; do
	[[ -s $HD/$c2.$s ]] || fail "no hook run for $c2 $s: $(ls "$HD")"
done
e=$HD/$c1.established
grep -qx "SIPUAD_CALL=$c1" "$e" || fail "SIPUAD_CALL: $(cat "$e")"
grep -qx "SIPUAD_LINE=la" "$e" || fail "SIPUAD_LINE"
grep -qx "SIPUAD_STATE=established" "$e" || fail "SIPUAD_STATE"
grep -qx "SIPUAD_DIRECTION=out" "$e" || fail "SIPUAD_DIRECTION"
grep -q "^SIPUAD_PEER=sip:6002@" "$e" || fail "SIPUAD_PEER"
grep -qx "SIPUAD_LOCAL_PORT=$(jq -r .local.port <<<"$ma")" "$e" || fail "SIPUAD_LOCAL_PORT: $(cat "$e")"
grep -qx "SIPUAD_REMOTE_PORT=$(jq -r .remote.port <<<"$ma")" "$e" || fail "SIPUAD_REMOTE_PORT"
grep -qx "SIPUAD_REMOTE_ADDRESS=$(jq -r .remote.address <<<"$ma")" "$e" || fail "SIPUAD_REMOTE_ADDRESS"
grep -qx "SIPUAD_CODEC=PCMU/8000" "$e" || fail "SIPUAD_CODEC"
grep -qx "SIPUAD_CODE=200" "$HD/$c1.closed" || fail "SIPUAD_CODE: $(cat "$HD/$c1.closed")"
grep -qx "SIPUAD_DIRECTION=in" "$HD/$c2.incoming" || fail "incoming direction"
if grep -q 's3cr3t' "$HD"/c*; then fail "a secret reached the hook"; fi

# 2. a hook that hangs is killed at 10 s; the daemon answers meanwhile
touch "$HD/sleep"
t0=$(fx__now_ms)
c3=$(sipuad_call la 6002) || fail "call 3"
wait_for 5 "lb rings" sipuad_incoming lb >/dev/null || fail "no incoming (3): the loop is blocked?"
c4=$(sipuad_incoming lb)
for ((i = 0; i < 5; i++)); do
	s0=$(fx__now_ms)
	sipuactl_j status >/dev/null || fail "status while a hook hangs"
	d=$(($(fx__now_ms) - s0))
	((d < 1000)) || fail "status took $d ms while a hook hangs"
	sleep 0.5
done
sipuactl_j hangup "$c4" >/dev/null || fail "reject"
wait_for 14 "the hanging hook killed" grep -q "hook: .* $c3 calling: still running .*killed" "$FX_DIR/sipuad.log" ||
	fail "no kill logged: $(grep 'hook:' "$FX_DIR/sipuad.log" | tail -n 5)"
dt=$(($(fx__now_ms) - t0))
((dt >= 9500)) || fail "killed after $dt ms, before 10 s"
rm -f "$HD/sleep"
wait_for 3 "no call open" sipuad_no_calls || fail "calls: $(sipuactl_j calls)"

# 3. a missing hook is logged, the call works
conf "$FX_DIR/no-such-hook"
sipuactl_j reload | jq -e .ok >/dev/null || fail "reload"
c5=$(sipuad_call la 6002) || fail "call 5"
wait_for 5 "lb rings" sipuad_incoming lb >/dev/null || fail "no incoming (5)"
sipuactl_j hangup "$(sipuad_incoming lb)" >/dev/null
wait_for 5 "closed" sipuad_no_calls || fail "calls: $(sipuactl_j calls)"
grep -q "hook: .*no-such-hook.*not found" "$FX_DIR/sipuad.log" || fail "missing hook not logged"
fx_pid_alive "$SIPUAD_PID" || fail "sipuad died"
sipuad_stop 6 || fail "sipuad exit status $?"
pass
