#!/usr/bin/env bash
# dns.sh BUILD_DIR - RULES B timing on the loopback bed: a server given by a
# name with two A records, each a local Kamailio registrar (a server farm
# behind one name), and dnsmasq as the nameserver (test/integration/lib.sh).
# Scaled timers: t1 = 100 ms, retry_count 3, heartbeat.interval 2 s,
# dns_timeout 1 s. ROUNDS (default 3) rounds of:
#   (a) the address in use SIGKILLed (ICMP) -> time until status shows the
#       line registered through the other address; bound hb + 1 s
#   (b) the address in use SIGSTOPped (silent) -> the same; bound
#       hb + T1*(2^N - 1)/1000 + 1 s
#   (c) sipuad restarted while the nameserver is silent -> time from the
#       start until registered from the stored last good answer; bound
#       dns_timeout + 1 s
# A round faults whichever address is in use, so (a) moves first -> second
# and (b) second -> first: the circular part of the walk is measured too. Every walk must add exactly one "address" event and no
# failover. Writes bench/results/dns.txt; exits 1 if a figure is over its
# bound or the events are wrong.
set -u
BUILD=$(cd "${1:-build}" && pwd)
ROUNDS=${ROUNDS:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
export SIPUAD_BIN=$BUILD/sipuad SIPUACTL_BIN=$BUILD/sipuactl
FX_TEST=bench-dns
source "$HERE/../test/integration/lib.sh"
source "$HERE/lib.sh"
fx_init

T1=100 N=3 HB=2 DNS_TIMEOUT=1
A=$(fx_ip 1)
B=$(fx_ip 2)
NAME=reg.$FX_DNS_DOMAIN
kam_start a "$A" || fail "kamailio a did not start"
kam_start b "$B" || fail "kamailio b did not start"
dns_set_a "$NAME" "$A" "$B"
dns_set_ttl 60
dns_start || fail "dnsmasq did not start"
{
	sipuad_conf_common "$T1" "resolv_conf = \"$(dns_resolv_conf)\"; dns_timeout = $DNS_TIMEOUT;"
	cat <<EOF2
lines = ( { id = "line1"; user = "1001"; domain = "$FX_DNS_DOMAIN"; password = "$FX_KAM_PASSWORD";
            servers = ( { host = "$NAME"; port = 5060; expires = 60; } );
            heartbeat = { interval = $HB; };
            failover  = { retry_count = $N; return_delay = 2; retry_delay = 2; }; } );
EOF2
} >"$FX_DIR/sipuad.conf"
# Info level, as deployed: a debug log would slow the daemon down.
sed -i 's/level = "debug"/level = "info"/' "$FX_DIR/sipuad.conf"
SIPUAD_SOCK=$FX_DIR/sipuad.sock
start_daemon() {
	setsid "$SIPUAD_BIN" -f -c "$FX_DIR/sipuad.conf" </dev/null >>"$FX_DIR/sipuad.log" 2>&1 &
	SIPUAD_PID=$!
	fx_track_group "$SIPUAD_PID"
}
stop_daemon() {
	kill -TERM "$SIPUAD_PID" 2>/dev/null
	wait_for 10 "sipuad to exit" fx__pid_dead "$SIPUAD_PID" || fail "sipuad did not exit"
}
start_daemon
wait_for 10 "line1 registered through A" sipuad_via line1 "$A:5060" || fail "line1 not registered"

count_kind() { sipuad_history line1 | jq -s --arg k "$1" 'map(select(.kind == $k)) | length'; }
# dwell: a random 0..HB s wait before each fault, so the rounds sample
# different phases of the heartbeat cycle (part of the measurement design,
# not a synchronisation).
dwell() {
	local ms=$((RANDOM % (HB * 1000)))
	sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
}

declare -a tk ts tc
events_report=()
ok_events=1
# walk FAULT SAMPLES_ARRAY: fault the instance in use, time the move to the
# other address, bring the faulted one back.
walk() {
	local fault=$1 from to from_ip to_ip t a0 f0
	if sipuad_via line1 "$A:5060" 2>/dev/null; then
		from=a to=b from_ip=$A to_ip=$B
	else
		from=b to=a from_ip=$B to_ip=$A
	fi
	a0=$(count_kind address)
	f0=$(count_kind failover)
	dwell
	if [[ $fault == kill ]]; then kam_kill "$from" || fail "kam_kill $from"; else kam_pause "$from" || fail "kam_pause $from"; fi
	POLL_T0=$(fx__now_ms)
	t=$(poll_ms 20 sipuad_via line1 "$to_ip:5060") ||
		fail "no move $from_ip -> $to_ip after $fault: $(sipuad_line_json line1)"
	local da=$(($(count_kind address) - a0)) df=$(($(count_kind failover) - f0))
	((da == 1 && df == 0)) || ok_events=0
	events_report+=("$fault $from_ip -> $to_ip: $t ms, address events +$da, failovers +$df (want +1, +0)")
	if [[ $fault == kill ]]; then
		kam_start "$from" "$from_ip" || fail "restart of $from"
		tk+=("$t")
	else
		kam_resume "$from" || fail "kam_resume $from"
		ts+=("$t")
	fi
}
for ((r = 1; r <= ROUNDS; r++)); do
	walk kill
	walk stop
done

# (c) restart with the nameserver silent: the stored last good answer
for ((r = 1; r <= ROUNDS; r++)); do
	stop_daemon
	dns_pause || fail "dns_pause"
	POLL_T0=$(fx__now_ms)
	start_daemon
	t=$(poll_ms 20 sipuad_line_is line1 .state registered) ||
		fail "restart with DNS silent: not registered: $(sipuad_line_json line1)"
	tc+=("$t")
	[[ $(sipuad_line line1 .dns.stale) == true ]] || ok_events=0
	events_report+=("restart with DNS silent: registered after $t ms from the stored answer (stale: $(sipuad_line line1 .dns.stale))")
	dns_resume || fail "dns_resume"
done
stop_daemon

mkdir -p "$HERE/results"
{
	echo "# sipuad RULES B timing: $ROUNDS rounds on loopback, one server name with two A records (two Kamailio), t1 = $T1 ms, retry_count $N, heartbeat $HB s, dns_timeout $DNS_TIMEOUT s ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -m), build: $(basename "$BUILD"))"
	echo "# seconds from the fault (or the start) until status shows the line registered through the other address; polled every 50 ms"
	table_head
	row "(a) address in use SIGKILLed -> next address" $((HB * 1000 + 1000)) "${tk[@]}"
	row "(b) address in use SIGSTOPped -> next address" $((HB * 1000 + T1 * ((1 << N) - 1) + 1000)) "${ts[@]}"
	row "(c) restart, nameserver silent -> registered" $((DNS_TIMEOUT * 1000 + 1000)) "${tc[@]}"
	echo "# bounds: (a) hb + 1; (b) hb + T1*(2^N-1)/1000 + 1; (c) dns_timeout + 1"
	printf '# %s\n' "${events_report[@]}"
} | tee "$FX_DIR/dns.txt"
cp "$FX_DIR/dns.txt" "$HERE/results/dns.txt"
grep -q ' OVER$' "$FX_DIR/dns.txt" && fail "a figure is over its bound"
((ok_events)) || fail "a walk did not add exactly one address event and no failover (or a restart was not from the stale answer)"
pass
