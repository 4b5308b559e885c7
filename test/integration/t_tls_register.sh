#!/usr/bin/env bash
# RULES G.1, G.2: a line registers over TLS with a registrar whose
# certificate (from the test CA, sip.tls.ca_file) names the configured
# server host reg.$D (subjectAltName DNS; the CN names nothing). Two more
# lines show the other forms RFC 5922 accepts: a sip: URI subjectAltName
# (registrar u), and a CN without any subjectAltName (registrar c). Everything
# the line sends goes over TLS on one connection: REGISTER, its refresh,
# heartbeat OPTIONS, an outgoing call's INVITE and BYE; an incoming call
# reaches it over the same connection. Nothing goes over udp or tcp.
# The server is given with its port and without: SRV _sips._tcp leads to
# it (G.1), the target's A record to the address.
# fx-timeout: 90
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_calls.sh"
source "$(dirname "$0")/lib_tls.sh"
fx_init
A=$(fx_ip 1)
FAR=$(fx_ip 5)
CALLER=$(fx_ip 6)
D=$FX_DNS_DOMAIN
tls_ca_init || fail "tls_ca_init"
tls_cert reg --dns "reg.$D" || fail "tls_cert reg"
kam_start_tls a "$A" reg || fail "kamailio a (tls)"
kam_far a "sip:$FAR:$FX_KAM_PORT" || fail "kam_far a"
kam_force a log_opt 1 || fail "log_opt"
U=$(fx_ip 2) C=$(fx_ip 3)
tls_cert uri --uri "sip:u.$D" || fail "tls_cert uri"
tls_cert cnonly --cn "c.$D" || fail "tls_cert cnonly"
kam_start_tls u "$U" uri || fail "kamailio u (tls)"
kam_start_tls c "$C" cnonly || fail "kamailio c (tls)"
dns_set_a "u.$D" "$U"
dns_set_a "c.$D" "$C"
dns_set_a "reg.$D" "$A"
dns_set_srv "_sips._tcp.srv.$D" "reg.$D" "$FX_TLS_PORT" 10 50
dns_start || fail "dns_start"

{
	sipuad_conf_tls 100 "resolv_conf = \"$(dns_resolv_conf)\"; dns_timeout = 1;"
	echo "lines = ("
	sipuad_conf_calls_line la 6201 "{ host = \"reg.$D\"; port = $FX_TLS_PORT; transport = \"tls\"; expires = 10; }" \
		"heartbeat = { interval = 1; };"
	echo ","
	sipuad_conf_calls_line lb 6202 "{ host = \"srv.$D\"; transport = \"tls\"; expires = 60; }"
	echo ","
	sipuad_conf_calls_line lu 6203 "{ host = \"u.$D\"; port = $FX_TLS_PORT; transport = \"tls\"; expires = 60; }"
	echo ","
	sipuad_conf_calls_line lc 6204 "{ host = \"c.$D\"; port = $FX_TLS_PORT; transport = \"tls\"; expires = 60; }"
	echo ");"
} >"$FX_DIR/sipuad.conf"
sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "la registered over tls" sipuad_on la 0 || fail "la: $(sipuad_line_json la)"
wait_for 5 "lb registered over tls (SRV)" sipuad_on lb 0 || fail "lb: $(sipuad_line_json lb)"
wait_for 5 "lu registered (sip: URI SAN)" sipuad_on lu 0 || fail "lu: $(sipuad_line_json lu)"
wait_for 5 "lc registered (CN, no SAN)" sipuad_on lc 0 || fail "lc: $(sipuad_line_json lc)"
assert_eq "$(sipuad_line la .server.transport)" tls "la transport"
assert_eq "$(sipuad_line la .address)" "$A:$FX_TLS_PORT" "la address"
assert_eq "$(sipuad_line lb .address)" "$A:$FX_TLS_PORT" "lb address (SRV _sips._tcp)"
wait_for 3 "6201 saved over tls" kam_has_contacts a 6201 1 || fail "6201 at a"
kam_contacts a 6201 | grep -qi 'transport=tls' || fail "TLS contact at a: $(kam_contacts a 6201)"

# the refresh (expires 10) and heartbeats (1 s) over the same TLS connection
refreshed() { (($(kam_count_register a 6201 saved tls) >= 2)); }
heartbeats() { (($(kam_count_options a) >= 2)); }
wait_for 12 "la refreshed over tls" refreshed || fail "no refresh over tls: $(kam_count_register a 6201 saved tls)"
wait_for 5 "OPTIONS at a" heartbeats || fail "no heartbeat at a"
sipuad_on la 0 || fail "la left the server: $(sipuad_line_json la)"

# an outgoing call: INVITE, then BYE, over TLS
EV=$FX_DIR/events.json
sipuad_subscribe "$EV" || fail "subscribe"
far_start far uas_call_answer "$FAR" || fail "far end"
c=$(sipuad_call la 7000) || fail "call"
wait_for 5 "established" sipuad_call_is "$c" .state established || fail "$(sipuactl_j calls)"
sipuactl_j hangup "$c" >/dev/null
far_wait far 5 || fail "far end did not get the BYE: $(far_status far)"
wait_for 3 "closed" call_closed "$EV" "$c" || fail "not closed"

# an incoming call through the registrar, over the line's own connection
far_call carol uac_call_in "$CALLER" "$(kam_addr a)" -s 6201 -key caller carol -d 2000 ||
	fail "far_call"
incoming() { sipuactl_j calls | jq -e '.calls[] | select(.direction == "in")' >/dev/null; }
wait_for 5 "incoming" incoming || fail "no incoming call: $(sipuactl_j calls)"
ci=$(sipuactl_j calls | jq -r '.calls[] | select(.direction == "in") | .id')
sipuactl_j answer "$ci" >/dev/null || fail "answer"
far_wait carol 10 || fail "caller: $(far_status carol)"

# everything over TLS, one connection (a reconnect would show as a second)
assert_eq "$(sipuad_sent_over udp)" 0 "requests over udp"
assert_eq "$(sipuad_sent_over tcp)" 0 "requests over tcp"
for m in REGISTER OPTIONS INVITE BYE; do
	n=$(sipuad_sent_over tls "$m")
	((n >= 1)) || fail "no $m over tls ($(sipuad_sent | sort | uniq -c))"
done
assert_eq "$(kam_count_register a 6201 "" udp)" 0 "REGISTERs of 6201 over udp"
assert_eq "$(kam_count_register a 6201 "" tcp)" 0 "REGISTERs of 6201 over tcp"
assert_eq "$(kam_conns a | wc -l)" 1 "connections at a (one, shared by both lines)"
assert_eq "$(sipuad_line la .failovers)" 0 "la failovers"
pass
