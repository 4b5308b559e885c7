# lib_tls.sh - helpers of the daemon's TLS tests (RULES G), sourced after
# lib.sh. The PKI, the TLS registrars and the bad listeners are lib.sh's
# (tls_ca_init, tls_cert, kam_start_tls, tls_plain_listener, ...).

# The ASan build unwinds allocations through OpenSSL only the slow way (it
# has no frame pointers): without it lsan.supp cannot tell Sofia-SIP's
# known leak from any other (only the TLS tests pay for it).
SIPUAD_ENV+=("ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0")

# sipuad_conf_tls T1 [SIP_EXTRA] [TLS_EXTRA]: the control, storage, log and
# sip sections of a TLS test's config: udp, tcp and tls, the test CA as
# sip.tls.ca_file; SIP_EXTRA goes into sip (e.g. resolv_conf), TLS_EXTRA
# into sip.tls (e.g. a client certificate).
sipuad_conf_tls() {
	sipuad_conf_common "${1:-100}" "${2:+$2
            }tls = { ca_file = \"$(tls_ca_file)\";${3:+ $3} };" '"udp", "tcp", "tls"'
}

# sipuad_sent_over PROTO [METHOD]: how many requests (of METHOD) the daemon
# sent over PROTO (udp, tcp, tls), from its message trace (sipuad_sent).
sipuad_sent_over() {
	sipuad_sent | awk -v p="$1" -v m="${2:-}" '
		{ split($2, d, "/") } d[1] == p && (m == "" || $1 == m) { n++ }
		END { print n + 0 }'
}

# line_error_reason LINE: the reason of the line's last_error ("" none).
line_error_reason() {
	sipuad_line_json "$1" | jq -r '.last_error.reason // ""'
}

# line_error_matches LINE REGEX: succeeds once the line's last_error reason
# matches REGEX (for wait_for).
line_error_matches() {
	local r
	r=$(line_error_reason "$1")
	[[ $r =~ $2 ]] || { echo "line $1 last_error: '$r'" >&2; return 1; }
}
