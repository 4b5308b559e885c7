#!/usr/bin/env bash
# idle.sh BUILD_DIR - the embedded budget of an idle daemon: two lines
# registered at a local Kamailio (one by IP literal, one by a DNS name),
# then over SECONDS (default 10) measure the daemon's wake-ups (voluntary +
# involuntary context switches from /proc/PID/status), resident memory, threads, file descriptors, binary size
# and bytes written to disk. Prints a table and writes it to
# bench/results/idle.txt. Budget: at most 1.2 wake-ups per second, plus 10
# for each heartbeat OPTIONS that fell into the window (counted at the
# registrar; one costs 5-9: its timer, the answer, nta's T4 and handle
# timers). The window is a heartbeat interval (30 s) by default, so the
# figure is an average a line really costs; since RULES I.4 heartbeats are
# spread, a shorter window holds none or some by chance.
# IDLE_TLS=1 adds a third line registered over TLS (RULES G; the registrar
# also on TLS, a test PKI) and writes bench/results/idle-tls.txt instead:
# what an idle TLS connection costs.
set -u
BUILD=$(cd "${1:-build}" && pwd)
SECONDS_IDLE=${IDLE_SECONDS:-30}
HERE=$(cd "$(dirname "$0")" && pwd)
export SIPUAD_BIN=$BUILD/sipuad SIPUACTL_BIN=$BUILD/sipuactl
FX_TEST=bench-idle
source "$HERE/../test/integration/lib.sh"
fx_init

TLS=${IDLE_TLS:-0}
if ((TLS)); then
	source "$HERE/../test/integration/lib_tls.sh"
	tls_ca_init || fail "tls_ca_init"
	tls_cert reg --dns "reg.$FX_DNS_DOMAIN" || fail "tls_cert"
	kam_start_tls a "$(fx_ip 1)" reg || fail "kamailio did not start"
else
	kam_start a "$(fx_ip 1)" || fail "kamailio did not start"
fi
# line2's server is a name (TTL 300 s, as a provider's zone might have):
# the resolver must cost nothing between lookups.
dns_set_a "reg.$FX_DNS_DOMAIN" "$(fx_ip 1)"
dns_set_ttl 300
dns_start || fail "dnsmasq did not start"
{
	if ((TLS)); then
		sipuad_conf_tls 500 "resolv_conf = \"$(dns_resolv_conf)\";"
	else
		sipuad_conf_common 500 "resolv_conf = \"$(dns_resolv_conf)\";"
	fi
	cat <<EOF
lines = ( { id = "line1"; user = "1001"; domain = "sipuad.test"; password = "s3cr3t-pw";
            servers = ( { host = "$(fx_ip 1)"; expires = 3600; } );
            heartbeat = { interval = 30; }; },
          { id = "line2"; user = "1002"; domain = "sipuad.test"; password = "s3cr3t-pw";
            servers = ( { host = "reg.$FX_DNS_DOMAIN"; port = 5060; expires = 3600; } );
            heartbeat = { interval = 30; }; }$( ((TLS)) && cat <<EOT
,
          { id = "line3"; user = "1003"; domain = "sipuad.test"; password = "s3cr3t-pw";
            servers = ( { host = "reg.$FX_DNS_DOMAIN"; port = $FX_TLS_PORT; transport = "tls"; expires = 3600; } );
            heartbeat = { interval = 30; }; }
EOT
) );
EOF
} >"$FX_DIR/sipuad.conf"
kam_force a log_opt 1 || fail "log_opt"
# Info level: a debug log would cost wake-ups of its own.
sed -i 's/level = "debug"/level = "info"/' "$FX_DIR/sipuad.conf"

# sipuad_start adds -d; start it by hand at info level instead.
SIPUAD_SOCK=$FX_DIR/sipuad.sock
setsid "$SIPUAD_BIN" -f -c "$FX_DIR/sipuad.conf" </dev/null >>"$FX_DIR/sipuad.log" 2>&1 &
SIPUAD_PID=$!
fx_track_group "$SIPUAD_PID"
wait_for 10 "line1 registered" sipuad_line_is line1 .state registered || fail "not registered"
wait_for 10 "line2 registered" sipuad_line_is line2 .state registered || fail "line2 not registered"
if ((TLS)); then
	wait_for 10 "line3 registered" sipuad_line_is line3 .state registered || fail "line3 not registered"
fi
# Idle means after start-up work: nta keeps a finished client transaction
# for T4 (5 s) to absorb retransmissions and wakes once to release it. The
# window opens after that linger (a settle time, not a synchronisation).
sleep 6

pid=$SIPUAD_PID
csw() { awk '/ctxt_switches/ { s += $2 } END { print s }' "/proc/$pid/status"; }
wbytes() { awk '/^write_bytes/ { print $2 }' "/proc/$pid/io"; }
c0=$(csw)
w0=$(wbytes)
o0=$(kam_count_options a)
t0=$(date +%s.%N)
# The measurement window itself: nothing to synchronise with, the daemon is
# left alone on purpose.
sleep "$SECONDS_IDLE"
c1=$(csw)
w1=$(wbytes)
o1=$(kam_count_options a)
t1=$(date +%s.%N)

rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
anon=$(awk '/^Anonymous:/ { print $2 }' "/proc/$pid/smaps_rollup")
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
threads=$(awk '/^Threads/ { print $2 }' "/proc/$pid/status")
fds=$(ls "/proc/$pid/fd" | wc -l)
size_sipuad=$(stat -c %s "$SIPUAD_BIN")
size_stripped=$(strip -o "$FX_DIR/sipuad.stripped" "$SIPUAD_BIN" && stat -c %s "$FX_DIR/sipuad.stripped")
size_ctl=$(stat -c %s "$SIPUACTL_BIN")
rate=$(awk -v c=$((c1 - c0)) -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", c / (b - a) }')
hb=$((o1 - o0))
budget=$(awk -v h="$hb" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", 1.2 + 10 * h / (b - a) }')
sipuad_stop 6 >/dev/null 2>&1

mkdir -p "$HERE/results"
{
	echo "# sipuad idle budget: $( ((TLS)) && echo "three registered lines (one over TLS)" || echo "two registered lines"), one server by name, ${SECONDS_IDLE} s idle ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -m), build: $(basename "$BUILD"))"
	printf '%-34s %s\n' "wake-ups per second (budget)" "$rate ($budget: 1.2 + 10 per heartbeat)"
	printf '%-34s %s\n' "heartbeats in window" "$hb"
	printf '%-34s %s\n' "context switches in window" "$((c1 - c0))"
	printf '%-34s %s\n' "resident memory now / peak (kB)" "$rss / $hwm"
	printf '%-34s %s\n' "of it anonymous (heap, stacks; kB)" "$anon"
	printf '%-34s %s\n' "threads" "$threads"
	printf '%-34s %s\n' "open file descriptors" "$fds"
	printf '%-34s %s\n' "bytes written to disk in window" "$((w1 - w0))"
	printf '%-34s %s\n' "sipuad binary / stripped (bytes)" "$size_sipuad / $size_stripped"
	printf '%-34s %s\n' "sipuactl binary (bytes)" "$size_ctl"
} | tee "$HERE/results/idle$( ((TLS)) && echo -tls).txt"
awk -v r="$rate" -v b="$budget" 'BEGIN { exit !(r <= b) }' || fail "idle wake-ups $rate/s over the $budget/s budget"
pass
