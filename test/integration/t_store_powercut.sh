#!/usr/bin/env bash
# Power-cut safety (RULES D): 50 rounds of starting the daemon, forcing
# failovers (each one a database transaction), and SIGKILLing it at a random
# moment; after every cut the database passes PRAGMA integrity_check and
# the next start resumes on a stored server. Bounded: about 1 s a round.
# fx-timeout: 150
source "$(dirname "$0")/lib.sh"
fx_init
kam_start a "$(fx_ip 1)" || fail "kamailio a"
kam_start b "$(fx_ip 2)" || fail "kamailio b"
A=$(fx_ip 1)
B=$(fx_ip 2)
ROUNDS=${POWERCUT_ROUNDS:-50}
{
	sipuad_conf_common
	cat <<EOF
lines = (
  { id = "line1"; user = "9201"; domain = "sipuad.test"; password = "s3cr3t-pw";
    servers = ( { host = "$A"; expires = 60; }, { host = "$B"; expires = 60; } );
    heartbeat = { interval = 0; }; failback = { enabled = false; }; },
  { id = "line2"; user = "9202"; domain = "sipuad.test"; password = "s3cr3t-pw";
    servers = ( { host = "$B"; expires = 60; }, { host = "$A"; expires = 60; } );
    heartbeat = { interval = 0; }; failback = { enabled = false; }; }
);
EOF
} >"$FX_DIR/sipuad.conf"
# Quieter than -d: the log is not what is being tested here.
sed -i 's/level = "debug"/level = "info"/' "$FX_DIR/sipuad.conf"

registered_any() { # LINE: registered on whichever server
	[[ $(sipuactl_j status "$1" | jq -r .line.state) == registered ]]
}
for ((r = 1; r <= ROUNDS; r++)); do
	sipuad_start "$FX_DIR/sipuad.conf" || fail "round $r: sipuad did not start"
	stored=$(sqlite3 "$FX_DIR/state.db" "SELECT server FROM line_state WHERE id = 'line1'" 2>/dev/null)
	wait_for 5 "round $r: line1 registered" registered_any line1 || fail "round $r: line1"
	if [[ -n $stored ]]; then
		now=$(sipuad_line line1 .server.index)
		assert_eq "$now" "$stored" "round $r: line1 resumed on its stored server"
	fi
	# Failovers in flight when the power goes: kill at a random point
	# within ~0.3 s of asking for them.
	sipuactl_j failover line1 >/dev/null || fail "round $r: failover refused"
	sipuactl_j failover line2 >/dev/null || fail "round $r: failover refused"
	sleep "0.$((RANDOM % 300 + 1))" # the random moment of the cut: nothing to wait for
	kill -KILL "$SIPUAD_PID"
	wait_for 5 "round $r: sipuad gone" fx__pid_dead "$SIPUAD_PID" || fail "round $r: still alive"
	wait "$SIPUAD_PID" 2>/dev/null
	fx_untrack "$SIPUAD_PID"
	SIPUAD_PID=
	ic=$(sqlite3 "$FX_DIR/state.db" 'PRAGMA integrity_check' 2>&1)
	assert_eq "$ic" ok "round $r: integrity_check after the cut"
done
fx_log "$ROUNDS power cuts survived"

sipuad_start "$FX_DIR/sipuad.conf" || fail "final start"
wait_for 5 "line1 registered after it all" registered_any line1 || fail "line1 final"
wait_for 5 "line2 registered after it all" registered_any line2 || fail "line2 final"
n=$(sipuactl_j history line1 200 | jq '[.events[] | select(.kind == "restart")] | length')
((n >= ROUNDS)) || fail "history has $n restarts, want >= $ROUNDS"
sipuad_stop 6 || fail "sipuad exit status $?"
pass
