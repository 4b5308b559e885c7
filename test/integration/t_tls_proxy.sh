#!/usr/bin/env bash
# RULES G.2 with an outbound proxy (B.1): over TLS the next hop is the
# proxy, so the proxy's certificate must name the proxy's configured host.
#   pa: outbound proxy p1.$D (its certificate names it): the line registers
#       through it over TLS; the proxy relays to the registrar (an IP
#       literal, the preloaded Route) over TLS too.
#   pb: outbound proxy p2.$D, whose certificate names another host: "TLS:
#       name mismatch", and nothing of the line reaches the registrar.
# fx-timeout: 60
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_calls.sh"
source "$(dirname "$0")/lib_tls.sh"
fx_init
D=$FX_DNS_DOMAIN
R=$(fx_ip 1) P1=$(fx_ip 2) P2=$(fx_ip 3)
tls_ca_init || fail "tls_ca_init"
tls_cert reg --dns "reg.$D" || fail "cert reg"
tls_cert p1 --dns "p1.$D" || fail "cert p1"
tls_cert p2 --dns "elsewhere.$D" || fail "cert p2"
kam_start_tls r "$R" reg || fail "kamailio r (registrar, tls)"
kam_start_proxy_tls p1 "$P1" p1 || fail "kamailio p1 (proxy, tls)"
kam_start_proxy_tls p2 "$P2" p2 || fail "kamailio p2 (proxy, tls)"
dns_set_a "p1.$D" "$P1"
dns_set_a "p2.$D" "$P2"
dns_start || fail "dns_start"

{
	sipuad_conf_tls 100 "resolv_conf = \"$(dns_resolv_conf)\"; dns_timeout = 1;"
	echo "lines = ("
	sipuad_conf_calls_line pa 6601 "{ host = \"$R\"; port = $FX_TLS_PORT; transport = \"tls\"; expires = 60; }" \
		"outbound_proxies = [ \"p1.$D:$FX_TLS_PORT\" ];"
	echo ","
	sipuad_conf_calls_line pb 6602 "{ host = \"$R\"; port = $FX_TLS_PORT; transport = \"tls\"; expires = 60; }" \
		"outbound_proxies = [ \"p2.$D:$FX_TLS_PORT\" ];"
	echo ");"
} >"$FX_DIR/sipuad.conf"
sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"

wait_for 5 "pa registered through p1" sipuad_on pa 0 || fail "pa: $(sipuad_line_json pa)"
assert_eq "$(sipuad_line pa .address)" "$P1:$FX_TLS_PORT" "pa's next hop"
(($(kam_count_register r 6601 saved tls) >= 1)) || fail "the registrar saved no REGISTER of 6601 over tls"
grep -q "relay REGISTER .* to sip:$R:$FX_TLS_PORT;lr;transport=tls" "$(kam_log p1)" ||
	fail "p1 did not relay over TLS: $(grep -m2 relay "$(kam_log p1)")"

wait_for 5 "pb refused: p2 is not p2.$D" line_error_matches pb "TLS: name mismatch" ||
	fail "pb: $(sipuad_line_json pb)"
sipuad_on pb 0 2>/dev/null && fail "pb registered through a proxy with another name's certificate"
assert_eq "$(kam_count_register r 6602)" 0 "REGISTERs of 6602 at the registrar"
! grep -q "relay REGISTER" "$(kam_log p2)" || fail "p2 relayed a REGISTER"
assert_eq "$(sipuad_sent_over udp)$(sipuad_sent_over tcp)" 00 "requests over udp or tcp"
pass
