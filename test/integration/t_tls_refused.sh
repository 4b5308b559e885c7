#!/usr/bin/env bash
# RULES G.2, G.3: a TLS primary that cannot prove it is the configured
# host is an unavailable address: the line fails over to its backup (a
# good TLS registrar), last_error and the failover's history reason say
# which TLS failure in words, nothing goes out in clear (the bad primaries
# also listen on udp and tcp 5060: they see no REGISTER there), and no
# REGISTER is tried over tcp or udp instead. One line per bad primary:
#   wrong    certificate for another name          "TLS: name mismatch"
#   cnsan    the right name only in the CN, a SAN naming another (RFC 5922:
#            the CN counts only without SAN)       "TLS: name mismatch"
#   expired  the right name, expired               "TLS: certificate has expired"
#   unknown  the right name, from an untrusted CA  "TLS: self-signed ... / unable to get ..."
#   nocipher a handshake that fails                "TLS: handshake failed"
#   tls11    a server that speaks TLS 1.1 at most   "TLS: handshake failed" (G.1: 1.2 or later)
#   plain    plain TCP on 5061, answering in text  "TLS: handshake failed"
#   silent   plain TCP on 5061, never answering    "timed out after 3 transmissions" (C.5)
# fx-timeout: 90
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_calls.sh"
source "$(dirname "$0")/lib_tls.sh"
fx_init
D=$FX_DNS_DOMAIN
B=$(fx_ip 2)
tls_ca_init || fail "tls_ca_init"
tls_cert good --dns "b.$D" || fail "cert good"
kam_start_tls b "$B" good || fail "kamailio b (tls)"
dns_set_a "b.$D" "$B"

declare -A ip want user
cases=(wrong cnsan expired unknown nocipher tls11 plain silent)
n=1
for c in "${cases[@]}"; do
	n=$((n + 2))
	ip[$c]=$(fx_ip "$n")
	user[$c]=$((6300 + n))
	dns_set_a "$c.$D" "${ip[$c]}"
done
tls_cert wrong --dns "other.$D" || fail "cert wrong"
tls_cert cnsan --cn "cnsan.$D" --dns "other.$D" || fail "cert cnsan"
tls_cert expired --dns "expired.$D" --expired || fail "cert expired"
tls_cert unknown --dns "unknown.$D" --issuer unknown || fail "cert unknown"
for c in wrong cnsan expired unknown; do
	kam_start_tls "$c" "${ip[$c]}" "$c" || fail "kamailio $c"
done
tls_bad_listener "${ip[nocipher]}" "$FX_TLS_PORT" nocipher || fail "nocipher listener"
tls_bad_listener "${ip[tls11]}" "$FX_TLS_PORT" tls11 || fail "tls11 listener"
tls_plain_listener "${ip[plain]}" "$FX_TLS_PORT" reply || fail "plain listener"
tls_plain_listener "${ip[silent]}" "$FX_TLS_PORT" silent || fail "silent listener"
want[wrong]="TLS: name mismatch"
want[cnsan]="TLS: name mismatch"
want[expired]="TLS: certificate has expired"
want[unknown]="TLS: (self-signed certificate in certificate chain|unable to get local issuer certificate)"
want[nocipher]="TLS: handshake failed"
want[tls11]="TLS: handshake failed"
want[plain]="TLS: handshake failed"
want[silent]="timed out after 3 transmissions"
dns_start || fail "dns_start"

{
	sipuad_conf_tls 100 "resolv_conf = \"$(dns_resolv_conf)\"; dns_timeout = 1;"
	echo "lines = ("
	sep=""
	for c in "${cases[@]}"; do
		printf '%s' "$sep"
		sipuad_conf_calls_line "$c" "${user[$c]}" \
			"{ host = \"$c.$D\"; port = $FX_TLS_PORT; transport = \"tls\"; expires = 60; },
			  { host = \"b.$D\"; port = $FX_TLS_PORT; transport = \"tls\"; expires = 60; }" \
			"failover = { retry_count = 3; }; failback = { enabled = true; interval = 600; };"
		sep=","
	done
	echo ");"
} >"$FX_DIR/sipuad.conf"
sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"

for c in "${cases[@]}"; do
	wait_for 8 "$c on the backup" sipuad_on "$c" 1 || fail "$c: $(sipuad_line_json "$c")"
	ev=$(sipuad_history "$c" | jq -c 'select(.kind == "failover")' | head -n 1)
	reason=$(jq -r .reason <<<"$ev")
	fx_log "$c: failover reason: $reason"
	assert_match "$reason" "${want[$c]}" "$c: the failover's reason"
	assert_match "$(jq -r .from <<<"$ev")" "primary $c\.$D:$FX_TLS_PORT/tls" "$c: failover from"
	assert_eq "$(sipuad_line "$c" .server.transport)" tls "$c: transport on the backup"
	assert_eq "$(sipuad_line "$c" .failovers)" 1 "$c: failovers"
done
# the first cause stays in words in last_error while nothing better came
for c in wrong expired nocipher; do
	assert_match "$(line_error_reason "$c")" "${want[$c]}" "$c: last_error"
done

# nothing in clear, no other transport: the Kamailio primaries saw no
# REGISTER at all (their udp/tcp 5060 included), the listeners no SIP text
for c in wrong cnsan expired unknown; do
	assert_eq "$(kam_count_register "$c" "${user[$c]}")" 0 "$c: REGISTERs the bad primary processed"
done
for c in nocipher tls11 plain silent; do
	log=$(tls_listener_log "${ip[$c]}")
	(($(tls_listener_accepts "${ip[$c]}") >= 1)) || fail "$c: no connection reached the listener"
	! grep -q ' text ' "$log" || fail "$c: text in clear reached the listener: $(grep -m1 ' text ' "$log")"
done
for c in plain silent; do
	grep -q ' tls ' "$(tls_listener_log "${ip[$c]}")" || fail "$c: no TLS record reached the listener"
done
while read -r m dest; do
	[[ $dest == tls/* ]] || fail "a request went over ${dest%%/*}: $m $dest"
done < <(sipuad_sent)
pass
