#!/usr/bin/env bash
# fleet.sh BUILD_DIR - a fleet of lines losing its primary (RULES I.4): one
# sipuad with LINES lines (default 1000, distinct users) on two local
# Kamailio registrars, primary a and backup b, with field timers: T1 500
# ms, retry_count 3, expires 3600 s, heartbeat HEARTBEAT s (default 30),
# start_spread SPREAD s (default 10), failback.interval FAILBACK s (default
# 60), return_delay and retry_delay at their defaults.
# Flow: every line registered on the primary; SETTLE s (default one
# heartbeat interval) of steady state; the primary dies (FAULT=kill:
# SIGKILL, ICMP from then on; FAULT=stop: SIGSTOP, silent); every line
# reaches the backup; 2 s later the primary returns (restarted, or
# SIGCONT); every line comes back to it.
# Measures, from a packet capture on lo (dumpcap, filtered to the two
# registrars' addresses and port 5060; without tshark, from the registrars'
# own log lines, time-stamped as they are written):
#   - REGISTERs per second at each registrar from the fault on, the peak at
#     the backup against the uniform spread (the REGISTERs it took, over
#     one heartbeat interval), and an ASCII histogram of them;
#   - per line, the time from the fault until the backup's 200 to its
#     REGISTER; min/median/max, and the 10th-90th percentile spread as a
#     share of the heartbeat interval (I.4 asks for at least 60 %);
#   - per line, the time from the primary's return until the primary's
#     200 (failback);
#   - OPTIONS per second at the primary before the fault (the heartbeats:
#     their peak against LINES / HEARTBEAT shows lockstep);
#   - failover and failback events per line (`history`) and the
#     `failovers` counter of `status`: exactly one of each per line.
# Every wait is bounded. Prints a table and writes bench/results/fleet.txt
# (with the histograms); exits 1 when a line did not fail over exactly
# once, did not reach the backup, or did not come back.
set -u
BUILD=$(cd "${1:-build}" && pwd)
LINES=${LINES:-1000}
HEARTBEAT=${HEARTBEAT:-30}
SPREAD=${SPREAD:-10}
FAILBACK=${FAILBACK:-60}
SETTLE=${SETTLE:-$HEARTBEAT}
FAULT=${FAULT:-kill}
T1=500 N=3
GOAL_PCT=60 # I.4: 10th-90th percentile of the failovers over >= 60 % of the interval
HERE=$(cd "$(dirname "$0")" && pwd)
export SIPUAD_BIN=$BUILD/sipuad SIPUACTL_BIN=$BUILD/sipuactl
FX_TEST=bench-fleet
source "$HERE/../test/integration/lib.sh"
source "$HERE/lib.sh"
fx_init

[[ $FAULT == kill || $FAULT == stop ]] || fail "FAULT=$FAULT: kill or stop"
((LINES >= 1 && HEARTBEAT >= 1)) || fail "LINES and HEARTBEAT must be at least 1"
command -v jq >/dev/null || fail "jq not found (scripts/deps.sh)"

# A line holds no socket of its own, but the registrations in flight, the
# database and nta's transactions take descriptors; leave room.
need_fd=$((LINES + 256))
if (($(ulimit -n) < need_fd)); then
	ulimit -n "$need_fd" 2>/dev/null ||
		fail "ulimit -n is $(ulimit -n) (hard $(ulimit -Hn)); $LINES lines want $need_fd"
fi

A=$(fx_ip 1)
B=$(fx_ip 2)
PORT=$FX_KAM_PORT
kam_start a "$A" || fail "kamailio a did not start"
kam_start b "$B" || fail "kamailio b did not start"

# ---------------------------------------------------------------- observers

# The capture (tshark's dumpcap) or, without tshark, a reader per registrar
# that stamps each REGISTER line of its log with the time it was read.
# Either way EV ends up as "EPOCH_S KIND REGISTRAR_IP USER" lines, KIND reg
# (a REGISTER arrived), ok (the registrar saved a binding: its 200), opt
# (an OPTIONS arrived; capture only). OBSERVE=kamailio-log picks the logs
# even where tshark is installed.
EV=$FX_DIR/events.txt
CAP=$FX_DIR/fleet.pcapng
SOURCE=${OBSERVE:-}
if [[ -z $SOURCE ]]; then
	SOURCE=capture
	if ! command -v tshark >/dev/null || ! command -v dumpcap >/dev/null; then
		SOURCE=kamailio-log
		echo "fleet: tshark not found (scripts/deps.sh installs it): counting from the registrars' logs" >&2
	fi
fi
[[ $SOURCE == capture || $SOURCE == kamailio-log ]] || fail "OBSERVE=$SOURCE: capture or kamailio-log"

obs_pids=()
cap_up_or_dead() { grep -q "Capturing on" "$FX_DIR/dumpcap.log" || ! fx_group_alive "$1"; }
obs_start() {
	local jc=0 n
	[[ $- == *m* ]] && { jc=1; set +m; }
	if [[ $SOURCE == capture ]]; then
		# -B 64: a 64 MB kernel buffer, so a burst is not dropped.
		setsid dumpcap -q -i lo -B 64 -f "port $PORT and (host $A or host $B)" -w "$CAP" \
			</dev/null >"$FX_DIR/dumpcap.log" 2>&1 &
		obs_pids+=("$!")
		fx_track_group "$!"
		((jc)) && set -m
		wait_for 10 "dumpcap to capture on lo" cap_up_or_dead "${obs_pids[0]}"
		grep -q "Capturing on" "$FX_DIR/dumpcap.log" && fx_group_alive "${obs_pids[0]}" && return 0
		# not root, and no capture capability: the logs will do
		echo "fleet: dumpcap did not start ($(head -n 3 "$FX_DIR/dumpcap.log" | tr '\n' ' ')): counting from the registrars' logs" >&2
		fx_stop_group "${obs_pids[0]}" 2
		fx_untrack "${obs_pids[0]}"
		obs_pids=()
		SOURCE=kamailio-log
		[[ $- == *m* ]] && { jc=1; set +m; }
	fi
	for n in a b; do
		# shellcheck disable=SC2016
		setsid bash -c 'tail -n 0 -F "$1" 2>/dev/null | while IFS= read -r l; do
			[[ $l == *"REGISTER sip:"* ]] && printf "%s %s\n" "$EPOCHREALTIME" "$l"; done' \
			_ "$(kam_log "$n")" </dev/null >"$FX_DIR/stamped.$n" 2>/dev/null &
		obs_pids+=("$!")
		fx_track_group "$!"
	done
	((jc)) && set -m
	return 0
}

obs_stop() {
	local p
	for p in "${obs_pids[@]}"; do
		# dumpcap finishes its file on SIGINT; a background shell ignores
		# SIGINT, so the log readers get SIGTERM
		if [[ $SOURCE == capture ]]; then kill -INT -- "-$p"; else kill -TERM -- "-$p"; fi 2>/dev/null
		wait_for 10 "observer $p to finish" fx__group_dead "$p" || fx_stop_group "$p" 2
		fx_untrack "$p"
	done
	obs_pids=()
}

# obs_events: writes EV from what the observers recorded.
obs_events() {
	if [[ $SOURCE == capture ]]; then
		tshark -r "$CAP" -n -Y 'sip.CSeq.method == "REGISTER" || sip.Method == "OPTIONS"' \
			-T fields -E separator=/t -e frame.time_epoch -e ip.src -e ip.dst \
			-e sip.Method -e sip.Status-Code -e sip.CSeq.method -e sip.from.user 2>"$FX_DIR/tshark.err" |
			awk -F'\t' -v a="$A" -v b="$B" '
				function reg(ip) { return ip == a || ip == b }
				$4 == "REGISTER" && reg($3) { print $1, "reg", $3, $7; next }
				$4 == "OPTIONS" && reg($3) { print $1, "opt", $3, $7; next }
				$5 == 200 && $6 == "REGISTER" && reg($2) { print $1, "ok", $2, $7 }'
	else
		local n ip
		for n in a b; do
			ip=$(kam_ip "$n")
			# "{a 1 CALLID} ... REGISTER sip:USER@DOMAIN from IP:PORT: challenge|saved"
			awk -v ip="$ip" 'match($0, /REGISTER sip:[^@ ]*@/) {
				u = substr($0, RSTART + 13, RLENGTH - 14)
				print $1, "reg", ip, u
				if ($0 ~ /: saved$/) print $1, "ok", ip, u }' "$FX_DIR/stamped.$n"
		done
	fi >"$EV"
}

# ---------------------------------------------------------------- the fleet

conf() {
	local i
	{
		sipuad_conf_common "$T1" | sed -e "s/start_spread = 0/start_spread = $SPREAD/" \
			-e 's/level = "debug"/level = "info"/'
		echo "lines = ("
		for ((i = 0; i < LINES; i++)); do
			printf '  { id = "l%d"; user = "%d"; domain = "sipuad.test"; password = "%s";\n' \
				"$i" $((10000 + i)) "$FX_KAM_PASSWORD"
			printf '    servers = ( { host = "%s"; expires = 3600; }, { host = "%s"; expires = 3600; } );\n' "$A" "$B"
			printf '    heartbeat = { interval = %d; }; failover = { retry_count = %d; };\n' "$HEARTBEAT" "$N"
			printf '    failback = { enabled = true; interval = %d; }; }%s\n' \
				"$FAILBACK" "$( ((i + 1 < LINES)) && echo ,)"
		done
		echo ");"
	} >"$FX_DIR/sipuad.conf"
}

# wait_all IDX TIMEOUT_S WHAT SEEN: polls status every 0.5 s until every
# line is registered on server IDX; appends "LINE EPOCH_MS" to SEEN for each
# line the first time a poll finds it there; logs progress every 5 s;
# fails at the deadline.
wait_all() {
	local idx=$1 what=$3 seen=$4 end next n=0 ids now new
	: >>"$seen"
	end=$(($(fx__now_ms) + $2 * 1000))
	next=$(($(fx__now_ms) + 5000))
	while :; do
		if ids=$(sipuactl_j status | jq -r --argjson i "$idx" \
			'.lines[] | select(.state == "registered" and .registered and .server.index == $i) | .id'); then
			now=$(fx__now_ms)
			new=$(awk -v t="$now" -v f="$seen" 'FILENAME == f { s[$1] = 1; next }
				$1 != "" && !($1 in s) { print $1, t }' "$seen" - <<<"$ids")
			[[ -z $new ]] || echo "$new" >>"$seen"
			n=$(grep -c . <<<"$ids")
			[[ $n == "$LINES" ]] && return 0
		fi
		(($(fx__now_ms) < end)) || break
		if (($(fx__now_ms) >= next)); then
			fx_log "$what: $n of $LINES"
			next=$((next + 5000))
		fi
		sleep 0.5
	done
	echo "timeout after ${2}s: $n of $LINES lines $what" >&2
	return 1
}

conf
SIPUAD_SOCK=$FX_DIR/sipuad.sock
obs_start
T_START=$(fx__now_ms)
jc=0
[[ $- == *m* ]] && { jc=1; set +m; }
setsid "$SIPUAD_BIN" -f -c "$FX_DIR/sipuad.conf" </dev/null >>"$FX_DIR/sipuad.log" 2>&1 &
SIPUAD_PID=$!
((jc)) && set -m
fx_track_group "$SIPUAD_PID"
wait_for 10 "sipuad's control socket" sipuactl_j version || fail "sipuad did not start"
wait_all 0 $((SPREAD + 30 + LINES / 50)) "registered on the primary" "$FX_DIR/seen.start" || fail "not every line registered on the primary"
fx_log "$LINES lines registered on the primary in $(($(fx__now_ms) - T_START)) ms (fds: $(find /proc/"$SIPUAD_PID"/fd -mindepth 1 | wc -l)); steady state for ${SETTLE}s"
# Steady state, not a synchronisation: every line's heartbeat cycle runs
# at least once before the fault.
T_SETTLE=$(fx__now_ms)
sleep "$SETTLE"

ok=1
T_FAULT=$(fx__now_ms)
if [[ $FAULT == kill ]]; then
	kam_kill a || fail "kam_kill a"
	FO_BOUND=$((HEARTBEAT * 1000 + 1000))
	FO_WHY="hb + 1"
else
	kam_pause a || fail "kam_pause a"
	# a missed heartbeat costs the OPTIONS' budget, then the REGISTER's
	# on the primary (A.6) before the line moves
	FO_BOUND=$((HEARTBEAT * 1000 + 2 * T1 * ((1 << N) - 1) + 1000))
	FO_WHY="hb + 2*T1*(2^N-1)/1000 + 1"
fi
fx_log "primary a: SIG${FAULT^^}"
if wait_all 1 $((HEARTBEAT + 2 * T1 * (1 << N) / 1000 + 20 + LINES / 50)) "on the backup" "$FX_DIR/seen.backup"; then
	fx_log "every line on the backup after $(($(fx__now_ms) - T_FAULT)) ms"
else
	ok=0
	echo "fleet: not every line reached the backup" >&2
fi
# The histogram's tail: 2 s of the fleet on the backup.
sleep 2

T_BACK=$(fx__now_ms)
if [[ $FAULT == kill ]]; then
	kam_start a "$A" || fail "restart of kamailio a"
	FB_BOUND=$((FAILBACK * 1000 + 2000))
	FB_WHY="failback.interval + 2"
else
	kam_resume a || fail "kam_resume a"
	# A probe sent while a was silent runs its 64*T1 before the next one.
	FB_BOUND=$((FAILBACK * 1000 + 64 * T1 + 2000))
	FB_WHY="failback.interval + 64*T1/1000 + 2"
fi
fx_log "primary a back"
if wait_all 0 $((FB_BOUND / 1000 + 20 + LINES / 50)) "back on the primary" "$FX_DIR/seen.back"; then
	fx_log "every line back on the primary after $(($(fx__now_ms) - T_BACK)) ms"
else
	ok=0
	echo "fleet: not every line came back to the primary" >&2
fi
T_END=$(fx__now_ms)
sleep 1
obs_stop

# Every line's failover and failback events, and the failovers counter.
fx_log "reading $LINES histories"
for ((i = 0; i < LINES; i++)); do
	sipuactl_j history "l$i" 100 || echo '{"ok":false}'
done | jq -r '.events[]? | select(.kind == "failover" or .kind == "failback") | "\(.line) \(.kind) \(.at)"' \
	>"$FX_DIR/history.txt"
sipuactl_j status | jq -r '.lines[] | "\(.id) \(.failovers)"' >"$FX_DIR/counters.txt"
sipuad_stop 60 >/dev/null 2>&1 || true

obs_events
[[ -s $EV ]] || fail "no REGISTER observed ($SOURCE); see $FX_DIR"

# ---------------------------------------------------------------- figures

# per_line KIND IP FROM_MS: "USER MS" for each user's first KIND event at IP
# at or after FROM_MS, in ms from FROM_MS.
per_line() {
	awk -v k="$1" -v ip="$2" -v t0="$3" '$2 == k && $3 == ip && $1 * 1000 >= t0 && !($4 in s) {
		s[$4] = 1; printf "%s %d\n", $4, $1 * 1000 - t0 }' "$EV"
}
per_line ok "$B" "$T_FAULT" >"$FX_DIR/fo.txt"
# Failback from status: after SIGCONT the primary answers what queued up
# while it was silent, so its first 200 to a line need not be the probe's.
awk -v t0="$T_BACK" '{ print $1, $2 - t0 }' "$FX_DIR/seen.back" >"$FX_DIR/fb.txt"
mapfile -t fo_ms < <(awk '{ print $2 }' "$FX_DIR/fo.txt")
mapfile -t fb_ms < <(awk '{ print $2 }' "$FX_DIR/fb.txt")
((${#fo_ms[@]} == LINES)) || { ok=0; echo "fleet: ${#fo_ms[@]} of $LINES lines seen registering at the backup" >&2; }
((${#fb_ms[@]} == LINES)) || { ok=0; echo "fleet: ${#fb_ms[@]} of $LINES lines seen registering back at the primary" >&2; }

# pct P: the P-th percentile (nearest rank) of the numbers on stdin
pct() { sort -n | awk -v p="$1" '{ a[NR] = $1 } END { r = int((p * NR + 99) / 100); if (r < 1) r = 1; print a[r] + 0 }'; }
p10=$(printf '%s\n' "${fo_ms[@]}" | pct 10)
p90=$(printf '%s\n' "${fo_ms[@]}" | pct 90)
spread_pct=$(awk -v a="$p10" -v b="$p90" -v h="$HEARTBEAT" 'BEGIN { printf "%.0f", (b - a) / (h * 10) }')

# per_second KIND IP FROM_MS TO_MS: "SECOND COUNT" for every second of
# [FROM_MS, TO_MS) (seconds from FROM_MS), zeros included.
per_second() {
	awk -v k="$1" -v ip="$2" -v t0="$3" -v t1="$4" '
		$2 == k && $3 == ip && $1 * 1000 >= t0 && $1 * 1000 < t1 { c[int(($1 * 1000 - t0) / 1000)]++ }
		END { for (s = 0; s < (t1 - t0) / 1000; s++) print s, c[s] + 0 }' "$EV"
}
per_second reg "$B" "$T_FAULT" "$T_BACK" >"$FX_DIR/rb.txt"
per_second reg "$A" "$T_FAULT" "$T_BACK" >"$FX_DIR/ra.txt"
per_second reg "$A" "$T_BACK" "$T_END" >"$FX_DIR/rfa.txt"
per_second opt "$A" "$T_SETTLE" "$T_FAULT" >"$FX_DIR/oa.txt"
read -r peak_s peak < <(sort -k2,2nr -k1,1n "$FX_DIR/rb.txt" | head -n 1)
reg_b=$(awk '{ n += $2 } END { print n + 0 }' "$FX_DIR/rb.txt")
reg_a_out=$(awk '{ n += $2 } END { print n + 0 }' "$FX_DIR/ra.txt")
uniform=$(awk -v n="$reg_b" -v h="$HEARTBEAT" 'BEGIN { printf "%.1f", n / h }')
ratio=$(awk -v p="$peak" -v u="$uniform" 'BEGIN { printf "%.1f", (u > 0) ? p / u : 0 }')
read -r fb_peak_s fb_peak < <(sort -k2,2nr -k1,1n "$FX_DIR/rfa.txt" | head -n 1)
opt_peak=$(awk '$2 > m { m = $2 } END { print m + 0 }' "$FX_DIR/oa.txt")
opt_uniform=$(awk -v n="$LINES" -v h="$HEARTBEAT" 'BEGIN { printf "%.1f", n / h }')

# per_line_events KIND: "N lines with K" for each K, every line counted
# (with 0 when it has none); SUM_OK is set when every line has exactly one.
per_line_events() {
	awk -v k="$1" -v n="$LINES" '$2 == k { c[$1]++ }
		END { for (i = 0; i < n; i++) h[c["l" i] + 0]++
			for (v in h) printf "%s%d lines with %d", (o++ ? ", " : ""), h[v], v }' \
		"$FX_DIR/history.txt"
}
fo_dist=$(per_line_events failover)
fb_dist=$(per_line_events failback)
cnt_dist=$(awk '{ h[$2]++ } END { for (v in h) printf "%s%d lines with %s", (o++ ? ", " : ""), h[v], v }' \
	"$FX_DIR/counters.txt")
one="$LINES lines with 1"
[[ $fo_dist == "$one" ]] || { ok=0; echo "fleet: failover events: $fo_dist (want $one)" >&2; }
[[ $fb_dist == "$one" ]] || { ok=0; echo "fleet: failback events: $fb_dist (want $one)" >&2; }
[[ $cnt_dist == "$one" ]] || { ok=0; echo "fleet: failovers counters: $cnt_dist (want $one)" >&2; }
drops=
[[ $SOURCE == capture ]] && drops=$(sed -n "s|^Packets received/dropped on interface .*': \([0-9]*\)/\([0-9]*\) .*|\1 packets, \2 dropped|p" "$FX_DIR/dumpcap.log" | head -n 1)

# hist FILE TITLE: an ASCII histogram of "SECOND COUNT" lines, up to the
# last second with a count, bars scaled to 50 columns at the peak; a run of
# empty seconds takes one row.
hist() {
	echo "$2"
	awk '{ s[NR] = $1; c[NR] = $2; if ($2 > m) m = $2; if ($2 > 0) last = NR }
		END {
			for (i = 1; i <= last; i++) {
				if (c[i] == 0) {
					for (j = i; j < last && c[j + 1] == 0; j++) ;
					if (j > i) { printf "  +%3ds..%3ds %5d\n", s[i], s[j], 0; i = j; continue }
				}
				w = (m > 0) ? int(c[i] * 50 / m + 0.5) : 0
				if (c[i] > 0 && w == 0) w = 1
				bar = ""; for (j = 0; j < w; j++) bar = bar "#"
				printf "  +%3ds        %5d %s\n", s[i], c[i], bar
			}
		}' "$1"
}

mkdir -p "$HERE/results"
{
	echo "# sipuad fleet: $LINES lines on two Kamailio registrars, t1 = $T1 ms, retry_count $N, expires 3600 s, heartbeat ${HEARTBEAT}s, start_spread ${SPREAD}s, failback ${FAILBACK}s, settle ${SETTLE}s, fault SIG${FAULT^^} ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -m), build: $(basename "$BUILD") $(git -C "$HERE" describe --always --dirty 2>/dev/null))"
	echo "# per line, seconds: from the fault until the backup's 200 to its REGISTER ($SOURCE${drops:+: $drops}); from the primary's return until status shows it there (polled every 0.5 s)"
	table_head
	row "primary SIG${FAULT^^} -> line on backup" "$FO_BOUND" "${fo_ms[@]:-0}"
	row "primary back -> line on primary" "$FB_BOUND" "${fb_ms[@]:-0}"
	echo "# bounds: $FO_WHY; $FB_WHY"
	awk -v a="$p10" -v b="$p90" -v p="$spread_pct" -v h="$HEARTBEAT" -v g="$GOAL_PCT" 'BEGIN {
		printf "failover spread, 10th-90th percentile: %.2f s .. %.2f s = %.2f s, %d %% of the %d s heartbeat (I.4 goal >= %d %%: %s)\n",
			a / 1000, b / 1000, (b - a) / 1000, p, h, g, (p >= g) ? "OK" : "BELOW" }'
	echo "REGISTER/s at the backup: peak $peak at +${peak_s}s; uniform $uniform ($reg_b REGISTERs over ${HEARTBEAT}s); peak/uniform $ratio"
	if [[ $SOURCE == capture ]]; then
		echo "REGISTERs sent to the primary during the outage: $reg_a_out"
	else
		echo "REGISTERs the primary logged during the outage: $reg_a_out (a dead one logs none; a paused one logs what queued up when it resumes)"
	fi
	echo "REGISTER/s at the primary after its return: peak ${fb_peak:-0} at +${fb_peak_s:-0}s"
	[[ $SOURCE == capture ]] &&
		echo "OPTIONS/s at the primary in steady state: peak $opt_peak; uniform $opt_uniform ($LINES / ${HEARTBEAT}s)"
	echo "failover events (history): $fo_dist; failback events: $fb_dist; failovers (status): $cnt_dist; want $one each"
	echo
	hist "$FX_DIR/rb.txt" "REGISTERs per second at the backup from the fault (+0 s) to the primary's return:"
	echo
	hist "$FX_DIR/ra.txt" "REGISTERs per second at the primary from the fault to its return:"
	echo
	hist "$FX_DIR/rfa.txt" "REGISTERs per second at the primary from its return until every line is back:"
	if [[ $SOURCE == capture ]]; then
		echo
		hist "$FX_DIR/oa.txt" "OPTIONS per second at the primary in steady state (before the fault):"
	fi
} | tee "$FX_DIR/fleet.txt"
cp "$FX_DIR/fleet.txt" "$HERE/results/fleet.txt"
((ok)) || fail "a line did not fail over exactly once, or did not reach the backup, or did not come back"
pass
