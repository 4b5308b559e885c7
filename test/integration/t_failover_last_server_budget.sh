#!/usr/bin/env bash
# RULES C "all servers unavailable": every server is silent (two sipp
# uas_register_silent: open sockets, no answer, no ICMP). The primary gets
# the retry_count budget (T1*(2^3 - 1) = 0.7 s); the last server gets the
# full RFC 3261 timer F, 64*T1 = 6.4 s, retransmitting on the T1-doubling
# schedule capped at T2 (sends at 0, .1, .3, .7, 1.5, 3.1, 6.3 s); only then
# the line reports the failure: state failed, not registered, last_error
# and next_attempt_in set.
# fx-timeout: 90
source "$(dirname "$0")/lib.sh"
fx_init
export FX_SIPP_UAS_TIMEOUT=60
P=$(fx_ip 3)
Q=$(fx_ip 4)
sipp_uas uas_register_silent "$P" -m 1000 || fail "sipp P did not start"
mp=$SIPP_UAS_MSG
sipp_uas uas_register_silent "$Q" -m 1000 || fail "sipp Q did not start"
mq=$SIPP_UAS_MSG

T1=100
{
	sipuad_conf_common "$T1"
	cat <<EOF2
lines = (
  { id = "line1"; user = "6201"; domain = "sipuad.test"; password = "s3cr3t-pw";
    servers = ( { host = "$P"; expires = 60; }, { host = "$Q"; expires = 60; } );
    heartbeat = { interval = 0; };
    failover  = { retry_count = 3; return_delay = 10; retry_delay = 10; };
    failback  = { enabled = false; interval = 2; }; }
);
EOF2
} >"$FX_DIR/sipuad.conf"

sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
t0=$(fx__now_ms)
at_q() { (($(sipp_count_in "$mq" REGISTER) >= 1)); }
wait_for 3 "the first REGISTER at the last server" at_q || fail "nothing reached the last server"
tq=$(fx__now_ms)
fx_log "REGISTER at the last server $((tq - t0)) ms after the start"
assert_eq "$(sipuad_line line1 .server.index)" 1 "server index while trying the last server"
failed_with_error() {
	local j
	j=$(sipuad_line_json line1) || return 1
	jq -e '.state == "failed" and .registered == false and .last_error != null and
		.next_attempt_in != null' <<<"$j" >/dev/null || { echo "line1: $j" >&2; return 1; }
}
wait_for 10 "line1 reports the failure" failed_with_error || fail "line1 does not report the failure"
dt=$(($(fx__now_ms) - tq))
j=$(sipuad_line_json line1)
fx_log "failed $dt ms after the first REGISTER at the last server: $j"
# 64*T1 = 6400 ms; a little early is not allowed, polling may add ~0.2 s.
((dt >= 64 * T1 - 200)) || fail "the last server was given up after $dt ms, before 64*T1 = $((64 * T1)) ms"
((dt <= 64 * T1 + 1500)) || fail "the failure was reported $dt ms after the last server's first REGISTER"
assert_match "$(jq -r .last_error.reason <<<"$j")" "$Q:5060" "last_error names the last server"

q=$(sipp_trace "$mq" | awk -F'\t' '$1 == "in" && $2 ~ /^REGISTER /')
fx_log "REGISTERs at the last server:"$'\n'"$(cut -f3,4,8 <<<"$q")"
nq=$(wc -l <<<"$q")
assert_eq "$(cut -f3,4,7 <<<"$q" | sort -u | wc -l)" 1 "one REGISTER transaction at the last server"
((nq >= 6 && nq <= 7)) || fail "$nq transmissions at the last server, want 7 (0 .1 .3 .7 1.5 3.1 6.3 s)"
fx_log "primary got $(sipp_count_in "$mp" REGISTER) REGISTER transmissions in all"

sipuad_stop 6 || fail "sipuad exit status $?"
pass
