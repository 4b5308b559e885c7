#!/usr/bin/env bash
# calls.sh BUILD_DIR - how fast a call is set up and cleared (RULES F), on
# the loopback bed of the integration tests: two Kamailio registrars that
# relay unregistered users to a sipp far end (kam_far), scaled timers:
# t1 = 100 ms, retry_count 3 (budget 0.7 s). ROUNDS (default 5) rounds of:
#   (h) healthy primary          -> call setup time (`call` to established)
#   (s) primary silent (SIGSTOP) -> call setup time, through the backup
#   (d) primary dead (SIGKILL)   -> call setup time, through the backup
#   (5) primary answers 503      -> call setup time, through the backup
#   (b) primary silent during an established call -> `hangup` to the far
#       end's 200 for the BYE (sipp's end of scenario), through the backup
# `calls` is polled every 20 ms. Bounds: (h) 0.5 s; (s) and (b) 2 x budget
# + 1.5 s (a re-registration on the primary in vain, then one on the
# backup); (d) and (5) budget + 1.5 s. Prints min/median/max against the
# bound and writes bench/results/calls.txt; exits 1 over a bound.
set -u
BUILD=$(cd "${1:-build}" && pwd)
ROUNDS=${ROUNDS:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
export SIPUAD_BIN=$BUILD/sipuad SIPUACTL_BIN=$BUILD/sipuactl
FX_TEST=bench-calls
source "$HERE/../test/integration/lib.sh"
source "$HERE/../test/integration/lib_calls.sh"
source "$HERE/lib.sh"
fx_init

T1=100 N=3
BUDGET=$((T1 * ((1 << N) - 1)))
A=$(fx_ip 1)
B=$(fx_ip 2)
FAR=$(fx_ip 5)
kam_start a "$A" || fail "kamailio a did not start"
kam_start b "$B" || fail "kamailio b did not start"
kam_far b "sip:$FAR:$FX_KAM_PORT" || fail "kam_far b"
{
	sipuad_conf_common "$T1"
	cat <<EOF2
lines = ( { id = "line1"; user = "1001"; domain = "sipuad.test"; password = "s3cr3t-pw";
            servers = ( { host = "$A"; expires = 60; }, { host = "$B"; expires = 60; } );
            heartbeat = { interval = 30; };
            failover  = { retry_count = $N; return_delay = 60; retry_delay = 2; };
            failback  = { enabled = true; interval = 600; }; } );
EOF2
} >"$FX_DIR/sipuad.conf"
sed -i 's/level = "debug"/level = "info"/' "$FX_DIR/sipuad.conf"
SIPUAD_SOCK=$FX_DIR/sipuad.sock
setsid "$SIPUAD_BIN" -f -c "$FX_DIR/sipuad.conf" </dev/null >>"$FX_DIR/sipuad.log" 2>&1 &
SIPUAD_PID=$!
fx_track_group "$SIPUAD_PID"
wait_for 10 "line1 registered" sipuad_on line1 0 || fail "line1 not registered"

POLL_STEP=0.02 # poll_ms (lib.sh): `calls` every 20 ms

# to_primary: the primary up and answering, the line registered there
to_primary() {
	kam_running a || kam_start a "$A" || fail "restart kamailio a"
	kam_far a "sip:$FAR:$FX_KAM_PORT" || fail "kam_far a"
	kam_force a inv_code 0
	sipuad_on line1 0 2>/dev/null || sipuactl_j failover line1 >/dev/null
	wait_for 5 "line1 on the primary" sipuad_on line1 0 || fail "line1: $(sipuad_line_json line1)"
}

# setup FAULT: the setup time of one call with the primary in FAULT
setup() {
	local c t
	to_primary
	far_start far uas_call_answer "$FAR" || fail "far end"
	case $1 in
	silent) kam_pause a ;;
	dead) kam_kill a ;;
	503) kam_force a inv_code 503 ;;
	esac
	POLL_T0=$(fx__now_ms)
	c=$(sipuad_call line1 7000) || fail "call ($1)"
	t=$(poll_ms 15 sipuad_call_is "$c" .state established) || fail "$1: not established: $(sipuactl_j calls)"
	sipuactl_j hangup "$c" >/dev/null
	far_wait far 10 >/dev/null || fail "$1: the far end did not finish"
	[[ $1 == silent ]] && kam_resume a
	T=$t
}

far_done() { ! far_running far; }

# bye: hangup -> the far end's scenario done, the primary silent
bye() {
	local c t
	to_primary
	far_start far uas_call_answer "$FAR" || fail "far end"
	c=$(sipuad_call line1 7000) || fail "call (bye)"
	wait_for 5 "established" sipuad_call_is "$c" .state established || fail "bye: $(sipuactl_j calls)"
	kam_pause a
	POLL_T0=$(fx__now_ms)
	sipuactl_j hangup "$c" >/dev/null
	t=$(poll_ms 15 far_done) || fail "bye: the far end never got it"
	far_wait far 2 >/dev/null || fail "bye: the far end's scenario failed"
	kam_resume a
	T=$t
}

declare -a th ts td t5 tb
for ((r = 1; r <= ROUNDS; r++)); do
	setup healthy && th+=("$T")
	setup silent && ts+=("$T")
	setup dead && td+=("$T")
	setup 503 && t5+=("$T")
	bye && tb+=("$T")
	fx_log "round $r: healthy ${th[-1]} silent ${ts[-1]} dead ${td[-1]} 503 ${t5[-1]} bye ${tb[-1]} ms"
done
kill -TERM "$SIPUAD_PID" 2>/dev/null
wait_for 10 "sipuad to exit" fx__pid_dead "$SIPUAD_PID"

mkdir -p "$HERE/results"
{
	echo "# sipuad call timing: $ROUNDS rounds on loopback, t1 = $T1 ms, retry_count $N (budget $BUDGET ms) ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -m), build: $(basename "$BUILD"))"
	echo "# seconds from \`call\` until \`calls\` shows it established (polled every 20 ms); (b) from \`hangup\` until the far end (sipp) answered the BYE"
	table_head
	row "(h) healthy primary: call setup" 500 "${th[@]}"
	row "(s) primary silent: setup via backup" $((2 * BUDGET + 1500)) "${ts[@]}"
	row "(d) primary dead (ICMP): setup via backup" $((BUDGET + 1500)) "${td[@]}"
	row "(5) primary answers 503: setup via backup" $((BUDGET + 1500)) "${t5[@]}"
	row "(b) primary silent: BYE delivered via backup" $((2 * BUDGET + 1500)) "${tb[@]}"
} | tee "$FX_DIR/calls.txt"
cp "$FX_DIR/calls.txt" "$HERE/results/calls.txt"
grep -q ' OVER$' "$FX_DIR/calls.txt" && fail "a call figure is over its bound"
pass
