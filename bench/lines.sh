#!/usr/bin/env bash
# lines.sh BUILD_DIR - what a registered line costs (RULES I.5): one sipuad
# with LINES lines (default 1000, distinct users) on one local Kamailio
# registrar, against a baseline sipuad with 1 line and the same config.
# Field timers: T1 500 ms, expires 3600 s, heartbeat 30 s (HEARTBEAT=S, 0 =
# off), start_spread 10 s (SPREAD=S; the shipped default: how fast 1000
# lines come up after a power cut, and so how much start-up garbage the heap
# keeps, see README).
# Measures
#   - anonymous memory (heap, stacks: what the lines allocate), private
#     memory (Private_Clean + Private_Dirty) and RSS, from
#     /proc/PID/smaps_rollup, of both daemons, SETTLE s (default heartbeat
#     + spread + 6 s: every line has sent its first heartbeat and nta has let
#     go of the finished transactions) after the last line registered; per
#     line = (N lines - 1 line) / (LINES - 1);
#   - CPU (utime + stime, /proc/PID/stat) from exec until every line is
#     registered (the registrar's binding count polled every 100 ms; the
#     daemon is not asked meanwhile), and the time that took;
#   - `sipuactl -j status` (every line) and `status LINE` latency, median of
#     5 each, with LINES lines;
#   - wake-ups per second of the LINES daemon (context switches,
#     /proc/PID/status) over IDLE_SECONDS (default one heartbeat interval,
#     at least 10 s).
# Prints a table and writes it to bench/results/lines.txt. Bound: at most
# 16 KB of private memory per line (BOUND_KB), judged on the anonymous
# figure: Private_Clean also counts library pages that happen not to be
# shared with another process at that moment, which moves by megabytes
# with whatever else runs; exits 1 above the bound.
set -u
BUILD=$(cd "${1:-build}" && pwd)
LINES=${LINES:-1000}
HEARTBEAT=${HEARTBEAT:-30}
SPREAD=${SPREAD:-10}
SETTLE=${SETTLE:-$((HEARTBEAT + SPREAD + 6))}
IDLE_SECONDS=${IDLE_SECONDS:-$((HEARTBEAT > 10 ? HEARTBEAT : 10))}
BOUND_KB=${BOUND_KB:-16}
HERE=$(cd "$(dirname "$0")" && pwd)
export SIPUAD_BIN=$BUILD/sipuad SIPUACTL_BIN=$BUILD/sipuactl
FX_TEST=bench-lines
source "$HERE/../test/integration/lib.sh"
fx_init

((LINES >= 2)) || fail "LINES=$LINES: need at least 2 (per line is a difference against 1 line)"
A=$(fx_ip 1)
kam_start a "$A" || fail "kamailio did not start"

# conf NAME N FIRST_USER: a config with N lines, users FIRST_USER.., every
# one on registrar a; its own socket and database.
conf() {
	local name=$1 n=$2 u=$3 i
	{
		SIPUAD_SOCK=$FX_DIR/$name.sock
		sipuad_conf_common 500 | sed -e "s|$FX_DIR/state.db|$FX_DIR/$name.db|" \
			-e "s/start_spread = 0/start_spread = $SPREAD/" -e 's/level = "debug"/level = "info"/'
		echo "lines = ("
		for ((i = 0; i < n; i++)); do
			printf '  { id = "l%d"; user = "%d"; domain = "sipuad.test"; password = "%s";\n' \
				"$i" $((u + i)) "$FX_KAM_PASSWORD"
			printf '    servers = ( { host = "%s"; expires = 3600; } ); heartbeat = { interval = %d; }; }%s\n' \
				"$A" "$HEARTBEAT" "$( ((i + 1 < n)) && echo ,)"
		done
		echo ");"
	} >"$FX_DIR/$name.conf"
}

# kam_bound: how many bindings the registrar holds (usrloc's statistic; no
# load on the daemon).
kam_bound() {
	kam_rpc a stats.get_statistics usrloc: 2>/dev/null |
		sed -n 's/.*location_contacts = \([0-9]*\).*/\1/p'
}
kam_bound_is() { [[ $(kam_bound) == "$1" ]]; }

# cpu_ms PID: utime + stime in ms.
cpu_ms() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print int(($12 + $13) * 1000 / hz) }' "/proc/$1/stat"
}

# mem PID: "anonymous_kB private_kB rss_kB" (smaps_rollup).
mem() {
	awk '/^Private_(Clean|Dirty):/ { p += $2 } /^Anonymous:/ { a = $2 } /^Rss:/ { r = $2 }
		END { print a, p, r }' "/proc/$1/smaps_rollup"
}

csw() { awk '/ctxt_switches/ { s += $2 } END { print s }' "/proc/$1/status"; }

all_registered() {
	local n
	n=$(sipuactl_j status | jq '[.lines[] | select(.state == "registered" and .registered)] | length') || return 1
	[[ $n == "$1" ]] || { echo "$n of $1 lines registered" >&2; return 1; }
}

# run NAME N FIRST_USER: starts a daemon on conf NAME, waits (bounded) until
# its N lines are registered; sets PID, REG_MS (exec -> every binding at the
# registrar), REG_CPU (ms of CPU by then).
run() {
	local name=$1 n=$2 before t0 jc=0
	conf "$name" "$n" "$3"
	SIPUAD_SOCK=$FX_DIR/$name.sock
	before=$(kam_bound)
	[[ $- == *m* ]] && { jc=1; set +m; }
	t0=$(fx__now_ms)
	setsid "$SIPUAD_BIN" -f -c "$FX_DIR/$name.conf" </dev/null >>"$FX_DIR/$name.log" 2>&1 &
	PID=$!
	SIPUAD_PID=$PID
	((jc)) && set -m
	fx_track_group "$PID"
	# 1000 lines: SPREAD s, then a REGISTER and its challenge each.
	wait_for $((SPREAD + 20 + n / 50)) "$n bindings of $name at the registrar" \
		kam_bound_is $((before + n)) || fail "$name: not every line registered ($(kam_bound) bindings)"
	REG_CPU=$(cpu_ms "$PID")
	REG_MS=$(($(fx__now_ms) - t0))
	wait_for 10 "every line of $name registered" all_registered "$n" || fail "$name: status disagrees"
}

# median_ms CMD...: runs CMD 5 times, prints the median wall time in ms (1 decimal).
median_ms() {
	local i a b
	for ((i = 0; i < 5; i++)); do
		a=$EPOCHREALTIME
		"$@" >/dev/null || return 1
		b=$EPOCHREALTIME
		awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }'
	done | sort -n | sed -n 3p
}

# The baseline runs alongside: its memory does not depend on the other
# daemon, and it is idle while that one registers.
fx_log "baseline: 1 line"
run one 1 5000
pid1=$PID reg1_ms=$REG_MS cpu1=$REG_CPU
fx_log "1 line registered in $reg1_ms ms; now $LINES lines"
run many "$LINES" 10000
pidn=$PID
fx_log "$LINES lines registered in $REG_MS ms (cpu $REG_CPU ms); settling ${SETTLE}s"
# Settle time, not a synchronisation: the measurement wants the state after
# every line's first heartbeat and nta's T4 linger (5 s) after it.
sleep "$SETTLE"
read -r a1 p1 r1 < <(mem "$pid1")
read -r an pn rn < <(mem "$pidn")
c0=$(csw "$pidn")
t0=$EPOCHREALTIME
# The wake-up window: the daemon is left alone on purpose.
sleep "$IDLE_SECONDS"
c1=$(csw "$pidn")
t1=$EPOCHREALTIME
wake=$(awk -v c=$((c1 - c0)) -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", c / (b - a) }')
st_all=$(median_ms sipuactl_j status) || fail "status failed"
st_one=$(median_ms sipuactl_j status l$((LINES / 2))) || fail "status LINE failed"
bytes_all=$(sipuactl_j status | wc -c)
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pidn/status")
sipuad_stop 30 >/dev/null 2>&1 || true
SIPUAD_PID=$pid1
sipuad_stop 10 >/dev/null 2>&1 || true

per() { awk -v a="$1" -v b="$2" -v n="$LINES" 'BEGIN { printf "%.1f", (b - a) / (n - 1) }'; }
pa=$(per "$a1" "$an")
mkdir -p "$HERE/results"
{
	echo "# sipuad memory per line: $LINES lines vs 1 on one Kamailio, heartbeat ${HEARTBEAT}s, expires 3600 s, start_spread ${SPREAD}s, settle ${SETTLE}s ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -m), build: $(basename "$BUILD"))"
	printf '%-30s %12s %12s %12s\n' "kB" "1 line" "$LINES lines" "per line"
	printf '%-30s %12s %12s %12s\n' "anonymous" "$a1" "$an" "$pa"
	printf '%-30s %12s %12s %12s\n' "private (clean + dirty)" "$p1" "$pn" "$(per "$p1" "$pn")"
	printf '%-30s %12s %12s %12s\n' "resident (RSS)" "$r1" "$rn" "$(per "$r1" "$rn")"
	printf '%-30s %12s %12s\n' "peak RSS" "" "$hwm"
	printf '%-30s %12s %12s\n' "start -> all registered (ms)" "$reg1_ms" "$REG_MS"
	printf '%-30s %12s %12s %12s\n' "CPU by then (ms)" "$cpu1" "$REG_CPU" \
		"$(awk -v a="$cpu1" -v b="$REG_CPU" -v n="$LINES" 'BEGIN { printf "%.2f", (b - a) / (n - 1) }')"
	printf '%-30s %12s %12s\n' "status, every line (ms)" "" "$st_all"
	printf '%-30s %12s %12s\n' "status reply (bytes)" "" "$bytes_all"
	printf '%-30s %12s %12s\n' "status LINE (ms)" "" "$st_one"
	printf '%-30s %12s %12s\n' "wake-ups per second" "" "$wake"
	awk -v p="$pa" -v b="$BOUND_KB" 'BEGIN { printf "verdict: %s kB of private (anonymous) memory per line, bound %s kB: %s\n", p, b, (p <= b) ? "OK" : "OVER" }'
} | tee "$HERE/results/lines.txt"
awk -v p="$pa" -v b="$BOUND_KB" 'BEGIN { exit !(p <= b) }' || fail "$pa kB of private memory per line, over the $BOUND_KB kB bound"
pass
