#!/usr/bin/env bash
# RULES G.2: the optional client certificate (sip.tls.certificate, .key),
# for a registrar (Kamailio, verify_client) that requires one from the
# test CA. Three starts of the daemon (the TLS files are read at start):
#   1. no client certificate: refused; last_error says so in words ("TLS:
#      alert from the server: certificate required": with TLS 1.3 the
#      server refuses after our handshake), no REGISTER is processed
#      (nothing in clear, no other transport);
#   2. a certificate of an unknown CA: refused likewise ("... unknown ca");
#   3. the test CA's client certificate: the line registers over TLS.
# The key's copy Sofia-SIP reads (tlsdir.c) is gone once the daemon runs;
# its emptied directory (0700) stays until the daemon stops.
# fx-timeout: 90
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_calls.sh"
source "$(dirname "$0")/lib_tls.sh"
fx_init
D=$FX_DNS_DOMAIN
A=$(fx_ip 1)
tls_ca_init || fail "tls_ca_init"
tls_cert reg --dns "reg.$D" || fail "tls_cert reg"
kam_start_tls a "$A" reg require || fail "kamailio a (tls, client certificates required)"
dns_set_a "reg.$D" "$A"
dns_start || fail "dns_start"
export TMPDIR=$FX_DIR/tmp # where the daemon makes Sofia's certificate directory
mkdir -p "$TMPDIR"

conf() { # TLS_EXTRA
	{
		sipuad_conf_tls 100 "resolv_conf = \"$(dns_resolv_conf)\"; dns_timeout = 1;" "$1"
		echo "lines = ("
		sipuad_conf_calls_line lc 6501 "{ host = \"reg.$D\"; port = $FX_TLS_PORT; transport = \"tls\"; expires = 60; }"
		echo ");"
	} >"$FX_DIR/sipuad.conf"
}
refused() { # WHAT WORDS
	sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start ($1)"
	wait_for 5 "lc refused ($1)" line_error_matches lc "TLS: $2" || fail "lc ($1): $(sipuad_line_json lc)"
	fx_log "$1: $(line_error_reason lc)"
	sipuad_on lc 0 2>/dev/null && fail "lc registered ($1)"
	sipuad_stop || fail "sipuad exit status ($1)"
	cp "$FX_DIR/sipuad.log" "$FX_DIR/sipuad.${1// /_}.log" # the next start starts a new log
}

conf ""
refused "no client certificate" "alert from the server: certificate required"
conf "certificate = \"$(tls_crt client-unknown)\"; key = \"$(tls_key client-unknown)\";"
refused "a client certificate of an unknown CA" "alert from the server: unknown ca"
assert_eq "$(kam_count_register a 6501)" 0 "REGISTERs processed without a good client certificate"

conf "certificate = \"$(tls_crt client)\"; key = \"$(tls_key client)\";"
sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "lc registered with its certificate" sipuad_on lc 0 || fail "lc: $(sipuad_line_json lc)"
assert_eq "$(sipuad_line lc .server.transport)" tls "transport"
(($(kam_count_register a 6501 saved tls) >= 1)) || fail "no REGISTER saved over tls"
assert_eq "$(kam_count_register a 6501 "" udp)$(kam_count_register a 6501 "" tcp)" 00 "REGISTERs over udp or tcp"
assert_eq "$(find "$TMPDIR" -mindepth 1 ! -type d | wc -l)" 0 "files left in TMPDIR (the key's copy)"
# the emptied directory stays while the daemon runs: ours, nobody else's
assert_eq "$(find "$TMPDIR" -mindepth 1 -type d -perm 0700 -user root | wc -l)" 1 "the certificate directory, 0700"
! grep -q "BEGIN.*PRIVATE KEY" "$FX_DIR/sipuad.log" || fail "the key reached the log"
sipuad_stop || fail "sipuad exit status"
assert_eq "$(find "$TMPDIR" -mindepth 1 | wc -l)" 0 "what the daemon left in TMPDIR"
pass
