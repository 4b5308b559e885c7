#!/usr/bin/env bash
# RULES G.4: over TCP and over TLS, the registrar's connection closing is
# a missed heartbeat at once. The heartbeat is 30 s, so only G.4 can act
# within the bounds below:
#   - registrar killed (SIGKILL: the kernel closes its connections, FIN):
#     the line re-registers, the primary refuses the connect, and the line
#     is registered on the backup within 2 s (bench/connloss.sh measures it);
#   - the connection reset (RST) while the registrar runs on: the line
#     registers again with the same server within 2 s, no failover;
#   - the TLS primary back: the failback (C.4) over TLS.
# Lines tcp1 (servers a, b over TCP) and tls1 (c, d over TLS).
# fx-timeout: 90
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_calls.sh"
source "$(dirname "$0")/lib_tls.sh"
fx_init
D=$FX_DNS_DOMAIN
A=$(fx_ip 1) B=$(fx_ip 2) C=$(fx_ip 3) E=$(fx_ip 4)
tls_ca_init || fail "tls_ca_init"
tls_cert c --dns "c.$D" || fail "cert c"
tls_cert e --dns "e.$D" || fail "cert e"
kam_start a "$A" || fail "kamailio a"
kam_start b "$B" || fail "kamailio b"
kam_start_tls c "$C" c || fail "kamailio c (tls)"
kam_start_tls e "$E" e || fail "kamailio e (tls)"
dns_set_a "c.$D" "$C"
dns_set_a "e.$D" "$E"
dns_start || fail "dns_start"

{
	sipuad_conf_tls 100 "resolv_conf = \"$(dns_resolv_conf)\"; dns_timeout = 1;"
	echo "lines = ("
	sipuad_conf_calls_line tcp1 6401 "{ host = \"$A\"; transport = \"tcp\"; expires = 600; },
	  { host = \"$B\"; transport = \"tcp\"; expires = 600; }" \
		"heartbeat = { interval = 30; }; failback = { enabled = true; interval = 600; };"
	echo ","
	sipuad_conf_calls_line tls1 6402 "{ host = \"c.$D\"; port = $FX_TLS_PORT; transport = \"tls\"; expires = 600; },
	  { host = \"e.$D\"; port = $FX_TLS_PORT; transport = \"tls\"; expires = 600; }" \
		"heartbeat = { interval = 30; }; failback = { enabled = true; interval = 2; };"
	echo ");"
} >"$FX_DIR/sipuad.conf"
sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "tcp1 on a" sipuad_on tcp1 0 || fail "tcp1: $(sipuad_line_json tcp1)"
wait_for 5 "tls1 on c" sipuad_on tls1 0 || fail "tls1: $(sipuad_line_json tls1)"

saved() { (($(kam_count_register "$1" "$2" saved) >= $3)); }

# RST, the registrar running on: the same server again, no failover
for x in "a tcp1 6401" "c tls1 6402"; do
	read -r k line user <<<"$x"
	before=$(kam_count_register "$k" "$user" saved)
	t0=$(fx__now_ms)
	kam_drop_conns "$k" >/dev/null || fail "kam_drop_conns $k"
	wait_for 2 "$line registered again at $k" saved "$k" "$user" $((before + 1)) ||
		fail "$line: no REGISTER after the reset: $(sipuad_line_json "$line")"
	fx_log "$line: registered again $(($(fx__now_ms) - t0)) ms after the reset"
	wait_for 2 "$line registered" sipuad_on "$line" 0 || fail "$line: $(sipuad_line_json "$line")"
	assert_eq "$(sipuad_line "$line" .failovers)" 0 "$line: failovers after a reset"
	grep -q "$line: registered -> registering (connection to .* closed)" "$FX_DIR/sipuad.log" ||
		fail "$line: the log does not say the connection closed"
done

# SIGKILL: the backup within 2 s, not at the next heartbeat (30 s)
for x in "a tcp1" "c tls1"; do
	read -r k line <<<"$x"
	t0=$(fx__now_ms)
	kam_kill "$k" || fail "kam_kill $k"
	wait_for 2 "$line on the backup" sipuad_on "$line" 1 || fail "$line: $(sipuad_line_json "$line")"
	fx_log "$line: on the backup $(($(fx__now_ms) - t0)) ms after the kill"
	assert_eq "$(sipuad_line "$line" .failovers)" 1 "$line: failovers"
done
assert_eq "$(sipuad_line tls1 .server.transport)" tls "tls1 stays on tls"

# the TLS primary returns: the failback probe (every 2 s) goes over TLS,
# checks c's certificate again, and the line goes home
kam_start_tls c "$C" c || fail "restart kamailio c"
wait_for 8 "tls1 back on c" sipuad_on tls1 0 || fail "tls1: $(sipuad_line_json tls1)"
assert_eq "$(sipuad_history_count tls1 failback)" 1 "tls1 failbacks"
assert_eq "$(sipuad_line tls1 .address)" "$C:$FX_TLS_PORT" "tls1 address after the failback"
(($(kam_count_register c 6402 saved tls) >= 1)) || fail "no REGISTER saved over tls at c"
assert_eq "$(sipuad_sent_over udp REGISTER)" 0 "REGISTERs over udp (neither line falls back)"
pass
