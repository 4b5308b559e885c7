#!/bin/bash
# Self-test of the call fixture (kamailio.cfg.in call routing, the sipp far
# ends of test/integration/sipp/, lib.sh far_* and kam_* call helpers);
# needs no sipuad. Registrars a and b on $(fx_ip 1) and $(fx_ip 2); far ends
# (callees) on $(fx_ip 19); callers on $(fx_ip 20).
#   - caller -> a -> far end (a's `far` knob): answered call; a
#     Record-Routes the INVITE, so ACK and BYE come back through a; a
#     registered callee is reached through its binding (lookup);
#   - early media (183 + SDP, then 200); the far end hangs up itself (its
#     BYE goes through a); a ringing far end is CANCELled (200 + 487);
#   - a 486 from the far end reaches the caller; inv_code 503 answers at a
#     (the far end sees nothing); inv_code -1 drops; bye_code; inv_auth 407
#     draws a challenge the caller answers (and a wrong user gets 403);
#     an unknown user with no far end: 404;
#   - BYE failover: a dies after the call is set up; the caller's BYE
#     without Route goes through b, which relays it to the far end's Contact;
#   - a stranger's INVITE gets its 403 (from a sipp standing in for a phone),
#     once and as a flood (3000 at 500/s).
# fx-timeout: 180
set -euo pipefail
source "$(dirname "$0")/lib.sh"
fx_init

A=$(fx_ip 1)
B=$(fx_ip 2)
FAR=$(fx_ip 19)
CALLER=$(fx_ip 20)
PW=calls-pw

kam_start a "$A" "$PW" || fail "kam_start a"
kam_start b "$B" "$PW" || fail "kam_start b"

# in_count FAR_NAME METHOD: requests of METHOD a far end received.
in_count() { sipp_count_in "$(far_msg "$1")" "$2"; }
# has_in FAR_NAME METHOD N: the far end received N METHOD requests (wait_for).
has_in() { [[ $(in_count "$1" "$2") == "$3" ]]; }
# got_response FAR_NAME CODE: succeeds if the far end received a CODE response.
got_response() {
	sipp_trace "$(far_msg "$1")" | awk -F'\t' -v c="$2" '$1 == "in" && $2 ~ "^SIP/2.0 " c " " { f = 1 } END { exit !f }'
}
# first_in FAR_NAME METHOD: the first METHOD request the far end got, whole.
first_in() {
	awk -v m="$2" '{ sub(/\r$/, "") }
		/^-{20,}/ { if (p) exit; r = 0; next }
		/message received/ { r = 1; start = ""; next }
		r && start == "" { if ($0 == "") next; start = $0; if (index($0, m " ") == 1) p = 1 }
		p' "$(far_msg "$1")"
}

# ---- an answered call through a; ACK and BYE follow the Record-Route
far_start bob uas_call_answer "$FAR" || fail "far_start bob"
kam_far a "$(far_addr bob)" || fail "kam_far a"
far_call alice uac_call_in "$CALLER" "$A" -s 2000 -key caller alice -d 300 || fail "far_call alice"
far_wait alice 10 || fail "call alice -> a -> bob"
far_wait bob 5 || fail "bob's side of the call"
assert_eq "$(kam_count_invite a "$CALLER")" 1 "INVITEs on a from the caller"
assert_eq "$(kam_count_bye a "$CALLER")" 1 "BYEs on a from the caller"
assert_eq "$(kam_count_reply a 200 BYE)" 1 "200 to the BYE relayed back by a"
assert_eq "$(kam_count_invite b)" 0 "INVITEs on b"
inv=$(first_in bob INVITE)
grep -q "^Record-Route: <sip:${A//./\\.}[;:>]" <<<"$inv" || fail "bob's INVITE has no Record-Route of a: $inv"
grep -q "^m=audio [0-9]* RTP/AVP 0 8 101" <<<"$inv" || fail "bob's INVITE has no SDP offer: $inv"
# a consumed its own Route entry; its Via shows the BYE came through it
grep -q "^Via: SIP/2.0/UDP ${A//./\\.}[;:]" <<<"$(first_in bob BYE)" || fail "bob's BYE did not come through a: $(first_in bob BYE)"
assert_eq "$(in_count bob ACK)" 1 "ACKs bob got"
fx_log "answered call through a: INVITE, ACK, BYE all via a"

# ---- a registered callee is reached through its binding, not the far end
# register 3000 from carol's address, then carol answers there
sipp_uac uac_register_auth "$A" -s 3000 -au 3000 -ap "$PW" -i "$(fx_ip 18)" -p 5060 ||
	fail "REGISTER 3000 -> a"
wait_for 3 "3000 bound on a" kam_has_contacts a 3000 1 || fail "3000 not bound"
far_start carol uas_call_answer "$(fx_ip 18)" || fail "far_start carol"
far_call alice2 uac_call_in "$CALLER" "$A" -s 3000 -key caller alice -d 200 || fail "far_call alice2"
far_wait alice2 10 || fail "call to registered 3000"
far_wait carol 5 || fail "carol's side"
assert_eq "$(in_count bob INVITE)" 1 "INVITEs bob got (none more)"
fx_log "registered user reached through its binding"

# ---- early media, then answer; the caller hangs up
far_start bob uas_call_early "$FAR" -d 300 || fail "far_start bob (early)"
far_call alice uac_call_in "$CALLER" "$A" -s 2000 -key caller alice -d 200 || fail "far_call (early)"
far_wait alice 10 || fail "early-media call"
far_wait bob 5 || fail "bob (early)"
got_response alice 183 || fail "the caller saw no 183"
grep -q '^m=audio' <<<"$(awk '/SIP\/2.0 183/,/^-{20,}/' "$(far_msg alice)")" || fail "183 without SDP"
fx_log "183 with SDP, then 200"

# ---- the far end hangs up; its BYE goes through a
far_start bob uas_call_far_hangup "$FAR" -d 300 || fail "far_start bob (hangup)"
n=$(kam_count_bye a "$FAR")
far_call alice uac_call_wait_bye "$CALLER" "$A" -s 2000 -key caller alice || fail "far_call (far hangup)"
far_wait alice 10 || fail "far-end hangup call (caller)"
far_wait bob 5 || fail "far-end hangup call (bob)"
assert_eq "$(kam_count_bye a "$FAR")" $((n + 1)) "BYEs on a from the far end"
fx_log "far-end BYE through a"

# ---- a ringing far end, CANCELled
far_start bob uas_call_ring "$FAR" || fail "far_start bob (ring)"
far_call alice uac_call_cancel "$CALLER" "$A" -s 2000 -key caller alice -d 300 || fail "far_call (cancel)"
far_wait alice 10 || fail "cancelled call (caller)"
far_wait bob 5 || fail "cancelled call (bob)"
assert_eq "$(kam_count_request a CANCEL "$CALLER")" 1 "CANCELs on a"
fx_log "ringing, CANCEL, 487"

# ---- busy: the far end's 486 reaches the caller
far_start bob uas_call_reject "$FAR" -set code 486 || fail "far_start bob (486)"
far_call alice uac_call_expect "$CALLER" "$A" -s 2000 -key caller alice -set code 486 || fail "far_call (486)"
far_wait alice 10 || fail "caller did not get 486"
far_wait bob 5 || fail "bob (486): no ACK"
fx_log "486 from the far end"

# ---- inv_code 503: a answers, the far end sees nothing; -1: silence
far_start bob uas_call_answer "$FAR" || fail "far_start bob (503)"
kam_inv_code a 503 || fail "kam_inv_code a 503"
n=$(kam_count_invite a)
far_call alice uac_call_expect "$CALLER" "$A" -s 2000 -key caller alice -set code 503 || fail "far_call (503)"
far_wait alice 10 || fail "caller did not get 503"
assert_eq "$(kam_count_invite a)" $((n + 1)) "INVITEs on a (503)"
kam_inv_code a -1 || fail "kam_inv_code a -1"
far_call alice uac_call_expect "$CALLER" "$A" -s 2000 -key caller alice -set code 503 -timeout 2s || fail "far_call (drop)"
rc=0
far_wait alice 10 2>/dev/null || rc=$?
((rc != 0 && rc != 125)) || fail "a dropped INVITE drew an answer (far_wait $rc)"
assert_eq "$(got_response alice '[0-9]+' && echo yes || echo no)" no "responses to a dropped INVITE"
((${n:-0} + 3 <= $(kam_count_invite a))) || fail "retransmissions of the dropped INVITE not counted"
kam_inv_code a 0 || fail "kam_inv_code a 0"
assert_eq "$(in_count bob INVITE)" 0 "INVITEs bob got while a refused"
fx_log "inv_code 503 and -1 ($(kam_count_invite a) INVITEs on a so far)"

# ---- inv_auth 407: challenged, answered with the caller's credentials
kam_inv_auth a 407 || fail "kam_inv_auth a 407"
far_call alice uac_call_in "$CALLER" "$A" -s 2000 -key caller alice -au alice -ap "$PW" -d 200 ||
	fail "far_call (auth)"
far_wait alice 10 || fail "authenticated call"
far_wait bob 5 || fail "bob (auth)"
got_response alice 407 || fail "the caller saw no 407"
grep -q '^Proxy-Authenticate: Digest realm="'"${A//./\\.}"'"' "$(far_msg alice)" || fail "407 without a realm of the From domain"
inv=$(first_in bob INVITE)
if grep -qi '^Proxy-Authorization:' <<<"$inv"; then fail "credentials relayed to bob"; fi
# alice's credentials in mallory's call: 403
far_call mallory uac_call_in "$CALLER" "$A" -s 2000 -key caller mallory -au alice -ap "$PW" || fail "far_call mallory"
rc=0
far_wait mallory 10 2>/dev/null || rc=$?
((rc == 1)) || fail "mallory's call: sipp exit $rc, want 1 (the 403)"
got_response mallory 403 || fail "someone else's credentials drew no 403"
kam_inv_auth a 401 || fail "kam_inv_auth a 401"
far_call alice uac_call_expect "$CALLER" "$A" -s 2000 -key caller alice -set code 401 || fail "far_call (401)"
far_wait alice 10 || fail "no 401 with inv_auth 401"
grep -q '^WWW-Authenticate: Digest' "$(far_msg alice)" || fail "401 without WWW-Authenticate"
kam_inv_auth a 0 || fail "kam_inv_auth a 0"
fx_log "inv_auth 407 and 401"

# ---- bye_code 503 on a: the caller's BYE is refused there
far_start bob uas_call_answer "$FAR" -timeout 8s || fail "far_start bob (bye_code)"
kam_bye_code a 503 || fail "kam_bye_code a 503"
far_call alice uac_call_in "$CALLER" "$A" -s 2000 -key caller alice -d 200 || fail "far_call (bye_code)"
rc=0
far_wait alice 10 2>/dev/null || rc=$?
((rc == 1)) || fail "BYE refused by bye_code: caller's sipp exit $rc, want 1"
got_response alice 503 || fail "the caller's BYE got no 503"
far_stop bob
assert_eq "$(in_count bob BYE)" 0 "BYEs bob got while a refused them"
kam_bye_code a 0 || fail "kam_bye_code a 0"
fx_log "bye_code 503"

# ---- no far end, unknown user: 404
kam_far a || fail "kam_far a (unset)"
far_call alice uac_call_expect "$CALLER" "$A" -s 2999 -key caller alice -set code 404 || fail "far_call (404)"
far_wait alice 10 || fail "no 404 for an unknown user"
kam_far a "$(far_addr bob)" || fail "kam_far a again"

# ---- BYE failover: a dies once the call is up; the BYE, without Route, goes
# through b, which relays it to bob's Contact
far_start bob uas_call_answer "$FAR" || fail "far_start bob (failover)"
far_call alice uac_call_bye_elsewhere "$CALLER" "$A" -s 2000 -key caller alice -d 1500 \
	-key bye_host "$B" -key bye_port 5060 || fail "far_call (bye elsewhere)"
wait_for 5 "the ACK at bob" has_in bob ACK 1 || fail "no ACK at bob"
kam_kill a || fail "kam_kill a"
far_wait alice 10 || fail "BYE through b"
far_wait bob 5 || fail "bob did not get the BYE through b"
assert_eq "$(kam_count_bye b "$CALLER")" 1 "BYEs on b"
assert_eq "$(kam_count_reply b 200 BYE)" 1 "200 to the BYE relayed back by b"
bye=$(first_in bob BYE)
grep -q "^Via: SIP/2.0/UDP ${B//./\\.}[;:]" <<<"$bye" || fail "bob's BYE did not come through b: $bye"
if grep -q '^Route:' <<<"$bye"; then fail "the relayed BYE carries a Route: $bye"; fi
fx_log "BYE without Route relayed by b to the far end"

# ---- a stranger's INVITE, answered 403 by a sipp standing in for the phone
P=$(fx_free_port)
far_start phone uas_call_reject "$FX_LOCAL_IP:$P" -set code 403 -set no_ring 1 -m 4000 || fail "far_start phone"
far_call scan uac_invite_stranger "$CALLER" "$FX_LOCAL_IP:$P" -s 1001 || fail "far_call scan"
far_wait scan 10 || fail "stranger: no 403"
far_call flood uac_invite_stranger "$CALLER" "$FX_LOCAL_IP:$P" -s 1001 -r 500 -m 3000 || fail "far_call flood"
far_wait flood 30 || fail "stranger flood"
far_stop phone
n=$(in_count phone INVITE)
((n >= 3001)) || fail "the phone got $n INVITEs, want 3001 (and retransmissions)"
fx_log "stranger 403, once and 3000 times at 500/s ($n INVITEs)"

pass
