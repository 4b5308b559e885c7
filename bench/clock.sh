#!/usr/bin/env bash
# clock.sh BUILD_DIR - RULES I.1: do Sofia-SIP's timers keep time when the
# wall clock steps? The daemon runs under libfaketime with only
# CLOCK_REALTIME faked (an offset file), one line on two Kamailio registrars
# (expires 20 s, t1 1000 ms, retry_count 3, heartbeat 2 s). ROUNDS (default 3)
# rounds of three refreshes each; each refresh's first transmission is
# dropped by the primary, and right after the drop the daemon's clock is
#   none     left alone (the control),
#   back     stepped back by an hour,
#   forward  stepped forward by an hour (back to the real time).
# The retransmission is due T1 later. Kamailio's log is polled every 20 ms
# for it: "on time" within T1 +- 200 ms of the drop being seen, "early"
# before that (a timer fired by the step), "stale" if it has not come by
# 4*T1 (a timer stalled by the step; the line then fails over). Prints a
# table (delays min/median/max, counts of on time / early / stale, failovers)
# and writes it to bench/results/clock.txt; exits 1 unless every refresh
# was on time with no failover.
set -u
BUILD=$(cd "${1:-build}" && pwd)
ROUNDS=${ROUNDS:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
export SIPUAD_BIN=$BUILD/sipuad SIPUACTL_BIN=$BUILD/sipuactl
FX_TEST=bench-clock
source "$HERE/../test/integration/lib.sh"
source "$HERE/lib.sh"
fx_init

FAKETIME_LIB=$(dpkg -L libfaketime 2>/dev/null | grep '/libfaketime\.so\.1$' | head -n 1)
[[ -n $FAKETIME_LIB ]] || fail "libfaketime not installed (sh scripts/deps.sh)"
preload=$FAKETIME_LIB
asan_lib=$(ldd "$SIPUAD_BIN" | awk '/libasan\.so/ { print $3; exit }')
[[ -n $asan_lib ]] && preload=$asan_lib:$FAKETIME_LIB

T1=1000 N=3 HB=2 EXPIRES=20
A=$(fx_ip 1)
B=$(fx_ip 2)
kam_start a "$A" || fail "kamailio a did not start"
kam_start b "$B" || fail "kamailio b did not start"
{
	sipuad_conf_common "$T1"
	cat <<EOF2
lines = ( { id = "line1"; user = "1001"; domain = "sipuad.test"; password = "s3cr3t-pw";
            servers = ( { host = "$A"; expires = $EXPIRES; }, { host = "$B"; expires = $EXPIRES; } );
            heartbeat = { interval = $HB; };
            failover  = { retry_count = $N; return_delay = 2; retry_delay = 2; };
            failback  = { enabled = true; interval = 4; }; } );
EOF2
} >"$FX_DIR/sipuad.conf"
sed -i 's/level = "debug"/level = "info"/' "$FX_DIR/sipuad.conf"
offset_file=$FX_DIR/faketime.offset
echo "+0" >"$offset_file"
SIPUAD_SOCK=$FX_DIR/sipuad.sock
setsid env LD_PRELOAD="$preload" FAKETIME_TIMESTAMP_FILE="$offset_file" FAKETIME_NO_CACHE=1 \
	FAKETIME_DONT_FAKE_MONOTONIC=1 "$SIPUAD_BIN" -f -c "$FX_DIR/sipuad.conf" \
	</dev/null >>"$FX_DIR/sipuad.log" 2>&1 &
SIPUAD_PID=$!
fx_track_group "$SIPUAD_PID"
wait_for 10 "line1 registered on the primary" sipuad_on line1 0 || fail "line1 not registered"

dropped() { kam_log_count a 'dropping REGISTER'; }
served() { kam_count_register a 1001; }
more_dropped() { (($(dropped) > d0)); }
more_served() { (($(served) > s0)); }

declare -A delays ontime early stale fo
kinds=(none back forward)
for k in "${kinds[@]}"; do delays[$k]="" ontime[$k]=0 early[$k]=0 stale[$k]=0 fo[$k]=0; done

# one KIND OFFSET: drop the next refresh's first transmission, set the
# daemon's clock offset to OFFSET, time the retransmission.
one() {
	local kind=$1 off=$2 fo0 t
	wait_for 30 "line1 on the primary" sipuad_on line1 0 || fail "line1 not back on the primary"
	fo0=$(sipuad_line line1 .failovers)
	d0=$(dropped)
	s0=$(served)
	kam_force a reg_code -1 || fail "kam_force reg_code -1"
	wait_for $((EXPIRES + 2)) "a refresh dropped by a" more_dropped ||
		{ kam_force a reg_code 0; fail "no refresh came: $(sipuad_line_json line1)"; }
	POLL_T0=$(fx__now_ms)
	kam_force a reg_code 0 || fail "kam_force reg_code 0"
	echo "$off" >"$offset_file"
	if t=$(poll_ms $((4 * T1 / 1000)) more_served); then
		delays[$kind]+=" $t"
		if ((t < T1 - 200)); then
			early[$kind]=$((early[$kind] + 1))
		elif ((t <= T1 + 200)); then
			ontime[$kind]=$((ontime[$kind] + 1))
		else
			stale[$kind]=$((stale[$kind] + 1))
		fi
	else
		t=stale
		stale[$kind]=$((stale[$kind] + 1))
	fi
	# a failover (if any) is decided within the retry budget
	sleep $(((T1 * ((1 << N) - 1)) / 1000 + 1))
	fo[$kind]=$((fo[$kind] + $(sipuad_line line1 .failovers) - fo0))
	fx_log "round $r $kind (offset $off): retransmission after $t ms, failovers $(($(sipuad_line line1 .failovers) - fo0))"
}

for ((r = 1; r <= ROUNDS; r++)); do
	one none "+0"
	one back "-3600"
	one forward "+0"
done
kill -TERM "$SIPUAD_PID" 2>/dev/null
wait_for 10 "sipuad to exit" fx__pid_dead "$SIPUAD_PID"

mkdir -p "$HERE/results"
{
	echo "# sipuad clock steps: $ROUNDS rounds on loopback, t1 = $T1 ms, a refresh's first transmission dropped and the daemon's wall clock stepped right after ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -m), build: $(basename "$BUILD"))"
	echo "# ms from the drop seen at the registrar (polled every 20 ms) to the retransmission; on time: T1 +- 200 ms (the drop is seen up to ~150 ms late)"
	printf '%-8s %3s %7s %7s %7s %7s %6s %6s %9s\n' step n min median max on_time early stale failovers
	for k in "${kinds[@]}"; do
		# shellcheck disable=SC2086 # the delays are a word list
		stats=$(printf '%s\n' ${delays[$k]} | sort -n | awk 'NF {
			a[++n] = $1 } END { if (!n) { printf "%7s %7s %7s", "-", "-", "-"; exit }
			m = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
			printf "%7d %7d %7d", a[1], m, a[n] }')
		printf '%-8s %3d %s %6d %6d %6d %9d\n' "$k" "$ROUNDS" "$stats" "${ontime[$k]}" \
			"${early[$k]}" "${stale[$k]}" "${fo[$k]}"
	done
} | tee "$FX_DIR/clock.txt"
cp "$FX_DIR/clock.txt" "$HERE/results/clock.txt"
awk 'NR > 3 && ($7 + $8 + $9) > 0 { bad = 1 } END { exit bad }' "$FX_DIR/clock.txt" ||
	fail "a timer was early or stale across a clock step, or the line failed over"
pass
