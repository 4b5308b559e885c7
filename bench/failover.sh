#!/usr/bin/env bash
# failover.sh BUILD_DIR - how fast a line changes server, on the loopback
# bed of the integration tests (two Kamailio registrars from
# test/integration/lib.sh), with scaled timers: t1 = 100 ms, retry_count 3,
# heartbeat.interval 2 s, failback.interval 4 s. ROUNDS (default 3) rounds
# of:
#   (a) primary silent (SIGSTOP)  -> time until status shows the line
#       registered on the backup; bound hb + T1*(2^N - 1)/1000 + 1 s
#   (c) primary resumed (SIGCONT) -> time until registered on the primary;
#       bound failback.interval + 1 s
#   (b) primary crashed (SIGKILL) -> time until registered on the backup;
#       bound hb + 1 s
#   (c) primary restarted         -> time until registered on the primary;
#       bound failback.interval + 1 s
# Status is polled every 50 ms. Each round must add exactly one failover
# and one failback per fault to the line's history. Prints a table (min,
# median, max, bound, OK/OVER) and writes it to bench/results/failover.txt;
# exits 1 if a figure is over its bound or a round's events are wrong.
set -u
BUILD=$(cd "${1:-build}" && pwd)
ROUNDS=${ROUNDS:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
export SIPUAD_BIN=$BUILD/sipuad SIPUACTL_BIN=$BUILD/sipuactl
FX_TEST=bench-failover
source "$HERE/../test/integration/lib.sh"
source "$HERE/lib.sh"
fx_init

T1=100 N=3 HB=2 FB=4
A=$(fx_ip 1)
B=$(fx_ip 2)
kam_start a "$A" || fail "kamailio a did not start"
kam_start b "$B" || fail "kamailio b did not start"
{
	sipuad_conf_common "$T1"
	cat <<EOF2
lines = ( { id = "line1"; user = "1001"; domain = "sipuad.test"; password = "s3cr3t-pw";
            servers = ( { host = "$A"; expires = 60; }, { host = "$B"; expires = 60; } );
            heartbeat = { interval = $HB; };
            failover  = { retry_count = $N; return_delay = 2; retry_delay = 2; };
            failback  = { enabled = true; interval = $FB; }; } );
EOF2
} >"$FX_DIR/sipuad.conf"
# Info level, as deployed: a debug log would slow the daemon down.
sed -i 's/level = "debug"/level = "info"/' "$FX_DIR/sipuad.conf"
SIPUAD_SOCK=$FX_DIR/sipuad.sock
setsid "$SIPUAD_BIN" -f -c "$FX_DIR/sipuad.conf" </dev/null >>"$FX_DIR/sipuad.log" 2>&1 &
SIPUAD_PID=$!
fx_track_group "$SIPUAD_PID"
wait_for 10 "line1 registered on the primary" sipuad_on line1 0 || fail "line1 not registered"

# events_since MARKER: the history events newer than the event MARKER (a
# compact JSON line, "" for none), newest first.
events_since() {
	sipuad_history line1 | awk -v m="$1" 'm != "" && $0 == m { exit } { print }'
}
count_kind() { jq -s --arg k "$2" 'map(select(.kind == $k)) | length' <<<"$1"; }

# dwell: a random 0..HB s wait before each fault, so the rounds sample
# different phases of the heartbeat cycle (part of the measurement design,
# not a synchronisation).
dwell() {
	local ms=$((RANDOM % (HB * 1000)))
	sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
}

# fault_events MARKER FO0: "F/B" - the failover and failback events added
# since MARKER; also checks the failovers counter grew by exactly one from
# FO0. Clears ok_events when the fault did not give exactly one of each.
fault_events() {
	local ev nfo nfb dfo
	ev=$(events_since "$1")
	nfo=$(count_kind "$ev" failover)
	nfb=$(count_kind "$ev" failback)
	dfo=$(($(sipuad_line line1 .failovers) - $2))
	((nfo == 1 && nfb == 1 && dfo == 1)) || ok_events=0
	echo "$nfo/$nfb (counter +$dfo)"
}

declare -a ta tb tcr tcs
events_report=()
ok_events=1
for ((r = 1; r <= ROUNDS; r++)); do
	marker=$(sipuad_history line1 1)
	fo0=$(sipuad_line line1 .failovers)
	dwell
	kam_pause a || fail "kam_pause a"
	POLL_T0=$(fx__now_ms)
	t=$(poll_ms 20 sipuad_on line1 1) || fail "round $r: no failover after SIGSTOP: $(sipuad_line_json line1)"
	ta+=("$t")
	kam_resume a || fail "kam_resume a"
	POLL_T0=$(fx__now_ms)
	t=$(poll_ms 20 sipuad_on line1 0) || fail "round $r: no failback after SIGCONT: $(sipuad_line_json line1)"
	tcr+=("$t")
	e_stop=$(fault_events "$marker" "$fo0")

	marker=$(sipuad_history line1 1)
	fo0=$(sipuad_line line1 .failovers)
	dwell
	kam_kill a || fail "kam_kill a"
	POLL_T0=$(fx__now_ms)
	t=$(poll_ms 20 sipuad_on line1 1) || fail "round $r: no failover after SIGKILL: $(sipuad_line_json line1)"
	tb+=("$t")
	kam_start a "$A" || fail "restart of kamailio a"
	POLL_T0=$(fx__now_ms)
	t=$(poll_ms 20 sipuad_on line1 0) || fail "round $r: no failback after the restart: $(sipuad_line_json line1)"
	tcs+=("$t")
	e_kill=$(fault_events "$marker" "$fo0")

	events_report+=("round $r: failover/failback events: SIGSTOP+SIGCONT $e_stop, SIGKILL+restart $e_kill (want 1/1 each)")
	fx_log "round $r: a ${ta[-1]} ms, c(resume) ${tcr[-1]} ms, b ${tb[-1]} ms, c(restart) ${tcs[-1]} ms"
done
kill -TERM "$SIPUAD_PID" 2>/dev/null
wait_for 10 "sipuad to exit" fx__pid_dead "$SIPUAD_PID"

bound_a=$((HB * 1000 + T1 * ((1 << N) - 1) + 1000))
bound_b=$((HB * 1000 + 1000))
bound_c=$((FB * 1000 + 1000))

mkdir -p "$HERE/results"
{
	echo "# sipuad failover timing: $ROUNDS rounds on loopback, t1 = $T1 ms, retry_count $N, heartbeat $HB s, failback $FB s ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -m), build: $(basename "$BUILD"))"
	echo "# seconds from the fault (or the primary's return) until status shows the line registered where it belongs; polled every 50 ms"
	table_head
	row "(a) primary SIGSTOPped -> on backup" "$bound_a" "${ta[@]}"
	row "(b) primary SIGKILLed -> on backup" "$bound_b" "${tb[@]}"
	row "(c) primary resumed -> on primary" "$bound_c" "${tcr[@]}"
	row "(c) primary restarted -> on primary" "$bound_c" "${tcs[@]}"
	echo "# bounds: (a) hb + T1*(2^N-1)/1000 + 1; (b) hb + 1; (c) failback.interval + 1"
	printf '# %s\n' "${events_report[@]}"
} | tee "$FX_DIR/failover.txt"
cp "$FX_DIR/failover.txt" "$HERE/results/failover.txt"
grep -q ' OVER$' "$FX_DIR/failover.txt" && fail "a failover figure is over its bound"
((ok_events)) || fail "a round did not have exactly one failover and one failback per fault"
pass
