#!/bin/bash
# Self-test of the SIP over TLS fixture (lib.sh "tls", SPEC G); needs no
# sipuad. openssl s_client plays the client the daemon will be:
#   - the test PKI: a registrar's certificate verifies for its DNS name and
#     its IP, not for another name; expired, not yet valid, unknown-CA
#     certificates fail with openssl's words; a leaf of the intermediate CA
#     verifies when the server sends the chain, not when it sends the leaf
#     alone; a CN-only certificate verifies for its CN; the wrongkey pair
#     does not match and kamailio refuses to start with it;
#   - kam_start_tls: udp/tcp 5060 as before plus tls 5061; a REGISTER over
#     TLS is answered on the connection and logged "over tls"; with
#     "require" a client without a certificate is refused (TLS 1.2: in the
#     handshake; TLS 1.3: "certificate required" alert after it), one from
#     the unknown CA too, the client certificate is accepted;
#   - kam_drop_conns resets an open session, kam_kill ends one, and the
#     registrar takes new connections after a drop;
#   - tls_plain_listener (silent, reply) is no TLS server; tls_bad_listener
#     (nocipher, close, reset) fails every handshake;
#   - kam_start (no TLS) still listens on no tls port.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
fx_init

IP_GOOD=$(fx_ip 1)
IP_OLD=$(fx_ip 2)
IP_FUTURE=$(fx_ip 3)
IP_UNKNOWN=$(fx_ip 4)
IP_CHAIN=$(fx_ip 5)
IP_LEAF=$(fx_ip 6)
IP_CN=$(fx_ip 7)
IP_REQ=$(fx_ip 8)
IP_SILENT=$(fx_ip 9)
IP_REPLY=$(fx_ip 10)
IP_NOCIPHER=$(fx_ip 11)
IP_CLOSE=$(fx_ip 12)
IP_RESET=$(fx_ip 13)
IP_PLAIN=$(fx_ip 14)
IP_WRONGKEY=$(fx_ip 15)
HOST=reg.sipuad.test

# ---- PKI
t=$(fx__now_ms)
tls_ca_init || fail "tls_ca_init"
fx_log "tls_ca_init: $(($(fx__now_ms) - t)) ms"
CA=$(tls_ca_file)
PKI=$FX_DIR/pki
for f in ca.crt ca.key unknown-ca.crt inter.crt client.crt client.key client-unknown.crt wrongkey.crt wrongkey.key; do
	[[ -s $PKI/$f ]] || fail "tls_ca_init made no $f"
done
tls_cert good --dns "$HOST" --uri "sip:$HOST" --ip "$IP_GOOD" || fail "tls_cert good"
tls_cert old --dns "$HOST" --expired || fail "tls_cert old"
tls_cert future --dns "$HOST" --not-yet-valid || fail "tls_cert future"
tls_cert stranger --dns "$HOST" --issuer unknown || fail "tls_cert stranger"
tls_cert chain --dns "$HOST" --issuer inter || fail "tls_cert chain"
tls_cert cnonly --cn "$HOST" || fail "tls_cert cnonly"
fx_log "PKI: $(($(fx__now_ms) - t)) ms in all"
assert_eq "$(grep -c 'BEGIN CERTIFICATE' "$(tls_crt chain)")" 2 "certificates in chain.crt (leaf + intermediate)"
assert_eq "$(grep -c 'BEGIN CERTIFICATE' "$PKI/chain.leaf.crt")" 1 "certificates in chain.leaf.crt"
openssl x509 -in "$(tls_crt good)" -noout -ext subjectAltName | grep -q "URI:sip:$HOST" ||
	fail "good.crt has no URI:sip:$HOST"
if openssl x509 -in "$(tls_crt cnonly)" -noout -ext subjectAltName 2>/dev/null | grep -q DNS; then
	fail "cnonly.crt has a subjectAltName"
fi
[[ $(openssl x509 -in "$(tls_crt client)" -noout -pubkey) == $(openssl pkey -in "$(tls_key client)" -pubout) ]] ||
	fail "client.key does not match client.crt"
[[ $(openssl x509 -in "$(tls_crt wrongkey)" -noout -pubkey) != $(openssl pkey -in "$(tls_key wrongkey)" -pubout) ]] ||
	fail "wrongkey.key matches wrongkey.crt"
openssl verify -CAfile "$CA" "$(tls_crt client)" >/dev/null || fail "client.crt does not verify against the test CA"
if openssl verify -CAfile "$CA" "$(tls_crt client-unknown)" >/dev/null 2>&1; then
	fail "client-unknown.crt verifies against the test CA"
fi

# probe_ok ADDR NAME: s_client verifies the server for host NAME.
probe_ok() {
	local out
	out=$(tls_probe "$1" -CAfile "$CA" -verify_return_error -verify_hostname "$2") ||
		fail "s_client to $1 for $2 failed: $(grep -iE 'error|verify' <<<"$out" | head -n 5)"
	grep -q 'Verify return code: 0 (ok)' <<<"$out" || fail "s_client to $1 for $2: no 'Verify return code: 0'"
}

# probe_fails ADDR ERE [S_CLIENT_ARGS...]: s_client fails, saying ERE.
probe_fails() {
	local addr=$1 words=$2 out
	shift 2
	if out=$(tls_probe "$addr" -CAfile "$CA" -verify_return_error "$@"); then
		fail "s_client to $addr $* succeeded, expected '$words'"
	fi
	grep -qiE -- "$words" <<<"$out" || fail "s_client to $addr $*: no '$words' in: $(tail -n 8 <<<"$out")"
}

# ---- registrars with good and bad certificates
t=$(fx__now_ms)
kam_start_tls good "$IP_GOOD" good || fail "kam_start_tls good"
fx_log "kam_start_tls: $(($(fx__now_ms) - t)) ms"
assert_eq "$(kam_tls_addr good)" "$IP_GOOD:5061" "kam_tls_addr good"
fx_udp_listening "$IP_GOOD" 5060 || fail "good: no udp on 5060"
fx_tcp_listening "$IP_GOOD" 5060 || fail "good: no tcp on 5060"
kam_start_tls old "$IP_OLD" old || fail "kam_start_tls old"
kam_start_tls future "$IP_FUTURE" future || fail "kam_start_tls future"
kam_start_tls stranger "$IP_UNKNOWN" stranger || fail "kam_start_tls stranger"
kam_start_tls chain "$IP_CHAIN" chain || fail "kam_start_tls chain"
kam_start_tls leaf "$IP_LEAF" chain.leaf || fail "kam_start_tls leaf"
kam_start_tls cnonly "$IP_CN" cnonly || fail "kam_start_tls cnonly"

probe_ok "$IP_GOOD:5061" "$HOST"
out=$(tls_probe "$IP_GOOD:5061" -CAfile "$CA" -verify_return_error -verify_ip "$IP_GOOD") ||
	fail "good does not verify for its IP $IP_GOOD"
probe_fails "$IP_GOOD:5061" "hostname mismatch" -verify_hostname other.sipuad.test
# kamailio (OpenSSL's auto chain) sends the test CA after the leaf: a client
# trusting another CA sees a self-signed certificate in the chain
probe_fails "$IP_GOOD:5061" "self-signed certificate in certificate chain" -CAfile "$PKI/unknown-ca.crt" -verify_hostname "$HOST"
probe_fails "$IP_OLD:5061" "certificate has expired" -verify_hostname "$HOST"
probe_fails "$IP_FUTURE:5061" "certificate is not yet valid" -verify_hostname "$HOST"
probe_fails "$IP_UNKNOWN:5061" "unable to get local issuer certificate" -verify_hostname "$HOST"
probe_ok "$IP_CHAIN:5061" "$HOST"
out=$(tls_probe "$IP_CHAIN:5061" -CAfile "$CA" -showcerts)
assert_eq "$(grep -c 'BEGIN CERTIFICATE' <<<"$out")" 2 "certificates the chain server sends"
probe_fails "$IP_LEAF:5061" "unable to get local issuer certificate" -verify_hostname "$HOST"
probe_ok "$IP_CN:5061" "$HOST"
probe_fails "$IP_CN:5061" "hostname mismatch" -verify_hostname other.sipuad.test
fx_log "certificate checks ok"

# a key that does not belong to the certificate: kamailio refuses to start
if FX_KAM_START_TIMEOUT=5 kam_start_tls wrongkey "$IP_WRONGKEY" wrongkey 2>"$FX_DIR/wrongkey.err"; then
	fail "kamailio started with wrongkey (a key not matching its certificate)"
fi
kam_running wrongkey && fail "wrongkey instance still running"
fx_log "wrongkey refused: $(grep -m1 -io 'private key[^(]*' "$(kam_log wrongkey)" || echo '?')"

# udp and tcp still work on a TLS registrar; a REGISTER over TLS is logged so
sipp_register "$IP_GOOD" alice || fail "REGISTER alice over udp to the tls registrar"
assert_eq "$(kam_count_register good alice saved udp)" 1 "alice's REGISTERs saved over udp"
assert_eq "$(kam_count_register good alice "" tls)" 0 "alice's REGISTERs over tls"

# register_msg USER IP: an unauthenticated REGISTER over TLS (rport: the 401
# comes back on the connection).
register_msg() {
	printf '%s\r\n' "REGISTER sip:$2 SIP/2.0" \
		"Via: SIP/2.0/TLS $FX_LOCAL_IP:5061;rport;branch=z9hG4bK-fx-$RANDOM" \
		"Max-Forwards: 70" "From: <sip:$1@$2>;tag=fx$RANDOM" "To: <sip:$1@$2>" \
		"Call-ID: fx-$RANDOM@$FX_LOCAL_IP" "CSeq: 1 REGISTER" \
		"Contact: <sip:$1@$FX_LOCAL_IP:5061;transport=tls>" "Expires: 60" "Content-Length: 0" ""
}

tls_session_open s1 "$IP_GOOD:5061" -CAfile "$CA" -verify_return_error -verify_hostname "$HOST" ||
	fail "tls session to good"
register_msg bob "$IP_GOOD" | tls_session_send s1
wait_for 3 "the 401 over tls" tls_session_has s1 'SIP/2\.0 401' || fail "no 401 over the tls session"
assert_eq "$(kam_count_register good bob challenge tls)" 1 "bob's REGISTERs challenged over tls"
assert_eq "$(kam_count_register good bob "" udp)" 0 "bob's REGISTERs over udp"
assert_eq "$(kam_conns good | wc -l)" 1 "connections of good"
fx_log "REGISTER over tls ok"

# ---- dropping connections
assert_eq "$(kam_drop_conns good)" 1 "connections kam_drop_conns reset"
wait_for 3 "session s1 to end after kam_drop_conns" tls_session_ended s1 || fail "s1 survived kam_drop_conns"
fx_log "kam_drop_conns: s1 ended: $(grep -m1 -iE 'errno|error|closed' "$(tls_session_out s1)" || echo '?')"
fx_tcp_listening "$IP_GOOD" 5061 || fail "good stopped listening after kam_drop_conns"
tls_session_open s2 "$IP_GOOD:5061" -CAfile "$CA" -verify_return_error || fail "new session after kam_drop_conns"
register_msg carol "$IP_GOOD" | tls_session_send s2
wait_for 3 "the 401 on the new session" tls_session_has s2 'SIP/2\.0 401' || fail "no 401 on the new session"
kam_kill good || fail "kam_kill good"
wait_for 3 "session s2 to end after kam_kill" tls_session_ended s2 || fail "s2 survived kam_kill"
kam_start_tls good "$IP_GOOD" good || fail "restart of good"
probe_ok "$IP_GOOD:5061" "$HOST"
tls_session_close s1
tls_session_close s2
fx_log "drop/kill ok"

# ---- client certificates required
kam_start_tls req "$IP_REQ" good require || fail "kam_start_tls req require"
grep -q '^require_certificate = yes' "$FX_DIR/kam/req/tls.cfg" || fail "req: tls.cfg does not require a certificate"
probe_fails "$IP_REQ:5061" "alert handshake failure" -tls1_2
if tls_session_open nocert "$IP_REQ:5061" -CAfile "$CA" -tls1_3 2>/dev/null; then
	wait_for 3 "session nocert to be refused" tls_session_ended nocert || fail "req kept a TLS 1.3 client without a certificate"
fi
tls_session_has nocert 'alert certificate required' ||
	fail "no 'certificate required' alert: $(tail -n 3 "$(tls_session_out nocert)")"
probe_fails "$IP_REQ:5061" "alert unknown ca" -tls1_2 -cert "$(tls_crt client-unknown)" -key "$(tls_key client-unknown)"
tls_session_open withcert "$IP_REQ:5061" -CAfile "$CA" -verify_return_error \
	-cert "$(tls_crt client)" -key "$(tls_key client)" || fail "req refused the client certificate"
register_msg dave "$IP_REQ" | tls_session_send withcert
wait_for 3 "the 401 with a client certificate" tls_session_has withcert 'SIP/2\.0 401' ||
	fail "no 401 over the session with a client certificate"
tls_session_alive withcert || fail "the session with a client certificate ended"
assert_eq "$(kam_count_register req dave challenge tls)" 1 "dave's REGISTERs over tls at req"
tls_session_close withcert
fx_log "client certificates ok"

# ---- listeners that are not good TLS servers
tls_plain_listener "$IP_SILENT" || fail "tls_plain_listener silent"
rc=0
out=$(FX_TLS_TIMEOUT=2 tls_probe "$IP_SILENT:5061" -CAfile "$CA") || rc=$?
assert_eq "$rc" 124 "s_client to the silent plain listener (timed out)"
assert_eq "$(tls_listener_accepts "$IP_SILENT")" 1 "connections the silent listener accepted"
tls_plain_listener "$IP_REPLY" 5061 reply || fail "tls_plain_listener reply"
rc=0
out=$(tls_probe "$IP_REPLY:5061" -CAfile "$CA") || rc=$?
((rc != 0 && rc != 124)) || fail "s_client to the replying plain listener: status $rc"
grep -qiE 'wrong version number|packet length too long|record layer failure' <<<"$out" ||
	fail "s_client to the replying plain listener: $(tail -n 5 <<<"$out")"
fx_log "plain listeners ok: $(grep -m1 -oiE 'wrong version number|packet length too long|record layer failure' <<<"$out")"

tls_bad_listener "$IP_NOCIPHER" || fail "tls_bad_listener nocipher"
probe_fails "$IP_NOCIPHER:5061" "alert handshake failure"
wait_for 2 "the handshake failure logged" grep -q '^handshake failed' "$(tls_listener_log "$IP_NOCIPHER")" ||
	fail "nocipher listener logged no failed handshake"
tls_bad_listener "$IP_CLOSE" 5061 close || fail "tls_bad_listener close"
probe_fails "$IP_CLOSE:5061" "unexpected eof|errno=104|Connection reset|write:errno"
tls_bad_listener "$IP_RESET" 5061 reset || fail "tls_bad_listener reset"
rc=0
out=$(tls_probe "$IP_RESET:5061" -CAfile "$CA") || rc=$?
((rc != 0 && rc != 124)) || fail "s_client to the resetting listener: status $rc"
assert_eq "$(tls_listener_accepts "$IP_RESET")" 1 "connections the resetting listener accepted"
tls_listener_stop "$IP_RESET" || fail "tls_listener_stop"
wait_for 2 "tcp $IP_RESET:5061 to close" fx__tcp_closed "$IP_RESET" 5061 || fail "listener still bound"
fx_log "bad listeners ok"

# ---- kam_start without TLS: no tls port, no tls module
kam_start plain "$IP_PLAIN" || fail "kam_start plain"
fx_tcp_listening "$IP_PLAIN" 5061 && fail "kam_start listens on $IP_PLAIN:5061"
kam_tls_port plain 2>/dev/null && fail "kam_tls_port of a registrar without TLS"
grep -q "tls" <(kam_rpc plain system.listMethods) && fail "kam_start loaded the tls module"
kam_stop req || fail "kam_stop req"
kam_start req "$IP_REQ" || fail "kam_start req without TLS after kam_start_tls"
fx_tcp_listening "$IP_REQ" 5061 && fail "the restarted req still listens on 5061"
pass
