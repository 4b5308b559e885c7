#!/bin/bash
# Self-test of the fixture (lib.sh + kamailio.cfg.in + sipp scenarios); needs
# no sipuad. Two registrars on 127.0.0.2 and 127.0.0.3 (fx_ip 1, 2):
#   - digest REGISTER over udp and tcp binds exactly one contact, on the right
#     instance only; a wrong password draws a second 401 and binds nothing;
#   - OPTIONS -> 200; the opt_code knob; pause (silent) and resume;
#   - kam_kill closes the UDP port at once while the other instance answers;
#     kam_start of the same name brings it back with an empty location table;
#   - a forwarding proxy (kam_start_proxy) on 127.0.0.4 (fx_ip 3), port 5070:
#     a REGISTER with a preloaded Route to b reaches b (challenge and 200
#     relayed back), binds there only, and b sees it come from the proxy; a
#     request without Route gets 404; pause/resume, kill and kam_stop work
#     on the proxy like on a registrar.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
fx_init

A=$(fx_ip 1) # 127.0.0.2
B=$(fx_ip 2) # 127.0.0.3
PW=fixture-pw

t=$(fx__now_ms)
kam_start a "$A" "$PW" || fail "kam_start a"
fx_log "kam_start a: $(($(fx__now_ms) - t)) ms"
t=$(fx__now_ms)
kam_start b "$B" "$PW" || fail "kam_start b"
fx_log "kam_start b: $(($(fx__now_ms) - t)) ms"

assert_eq "$(kam_addr a)" "$A:5060" "kam_addr a"
fx_udp_listening "$A" 5060 || fail "a: no udp socket on $A:5060"
fx_tcp_listening "$A" 5060 || fail "a: no tcp listener on $A:5060"
fx_udp_listening "$B" 5060 || fail "b: no udp socket on $B:5060"
assert_eq "$(kam_contact_count a alice)" 0 "a: bindings of alice before REGISTER"

# OPTIONS
sipp_options "$A" || fail "OPTIONS to a did not get 200"
sipp_options "$B" || fail "OPTIONS to b did not get 200"
fx_log "OPTIONS ok on both"

# REGISTER with digest auth, udp
sipp_register "$A" alice "$PW" || fail "REGISTER alice to a (udp) failed"
wait_for 3 "alice bound on a" kam_has_contacts a alice 1 || fail "alice not bound on a"
c=$(kam_contacts a alice)
fx_log "a: alice -> $c"
IFS=$'\t' read -r uri exp cid <<<"$c"
assert_match "$uri" "^sip:alice@${FX_LOCAL_IP//./\\.}:[0-9]+" "contact URI of alice"
assert_match "$exp" '^[0-9]+$' "expires of alice's binding"
((exp > 3500 && exp <= 3600)) || fail "expires of alice's binding is $exp, want ~3600"
assert_ne "$cid" "" "Call-ID of alice's binding"
assert_eq "$(kam_contact_count b alice)" 0 "b: bindings of alice"
assert_eq "$(kam_contact_count a bob)" 0 "a: bindings of bob"
assert_eq "$(kam_contact_count a "alice@$A")" 1 "a: bindings of alice@$A (user@domain form)"
assert_eq "$(kam_contacts a | cut -f4)" alice "a: AoR column of the unfiltered list"

# REGISTER over tcp binds a second, distinct contact (other port, other Call-ID)
sipp_register "$A" alice "$PW" -t t1 || fail "REGISTER alice to a (tcp) failed"
wait_for 3 "alice bound twice on a" kam_has_contacts a alice 2 || fail "tcp binding missing"
kam_contacts a alice | grep -q 'transport=TCP' || fail "no tcp contact: $(kam_contacts a alice)"
fx_log "tcp REGISTER ok"

# wrong password: second 401, nothing bound
sipp_register_rejected "$A" bob wrong-password || fail "wrong password did not draw a second 401"
assert_eq "$(kam_contact_count a bob)" 0 "a: bindings of bob after wrong password"
fx_log "wrong password rejected"

# forwarding proxy: REGISTER with a preloaded Route through it to b
P=$(fx_ip 3) # 127.0.0.4
PP=5070
t=$(fx__now_ms)
kam_start_proxy p "$P" "$PP" || fail "kam_start_proxy p"
fx_log "kam_start_proxy p: $(($(fx__now_ms) - t)) ms"
assert_eq "$(kam_addr p)" "$P:$PP" "kam_addr p"
fx_udp_listening "$P" "$PP" || fail "p: no udp socket on $P:$PP"
fx_tcp_listening "$P" "$PP" || fail "p: no tcp listener on $P:$PP"
kam_rpc p core.uptime >/dev/null || fail "kamcmd to the proxy failed"
assert_fails "kam_contacts on a proxy" kam_contacts p carol
assert_fails "second kam_start_proxy p" kam_start_proxy p "$P" "$PP"
sipp_register_route "$P:$PP" "$B:5060" carol "$PW" || fail "REGISTER carol through the proxy to b failed"
wait_for 3 "carol bound on b" kam_has_contacts b carol 1 || fail "carol not bound on b"
assert_eq "$(kam_contact_count a carol)" 0 "a: bindings of carol (routed to b)"
assert_match "$(kam_contacts b carol | cut -f1)" "^sip:carol@${FX_LOCAL_IP//./\\.}:[0-9]+" "contact of carol at b (sipp's own)"
Bre=${B//./\\.}
Pre=${P//./\\.}
assert_eq "$(kam_count_relayed p REGISTER "sip:$Bre:5060;lr")" 2 "REGISTERs the proxy relayed to b (the first and the authenticated one)"
assert_eq "$(kam_count_register b carol challenge)" 1 "carol's REGISTERs b challenged"
assert_eq "$(kam_log_count b "REGISTER sip:carol@[^ ]* from $Pre:$PP: saved")" 1 "b saved carol's REGISTER coming from the proxy"
assert_eq "$(kam_log_count p "reply 401 [^ ]* to REGISTER from $Bre:5060")" 1 "b's 401 relayed back by the proxy"
assert_eq "$(kam_log_count p "reply 200 [^ ]* to REGISTER from $Bre:5060")" 1 "b's 200 relayed back by the proxy"
# a request without Route: 404 from the proxy itself, nothing relayed
if FX_SIPP_TIMEOUT=3 sipp_options "$P:$PP"; then fail "the proxy answered an OPTIONS without Route with 200"; fi
(($(kam_log_count p "no Route: 404 to OPTIONS") >= 1)) || fail "the proxy did not refuse the OPTIONS without Route"
assert_eq "$(kam_count_relayed p OPTIONS)" 0 "OPTIONS without Route relayed"
# paused proxy: silent, the REGISTER times out; resumed: works again
kam_pause p || fail "kam_pause p"
if FX_SIPP_TIMEOUT=2 sipp_register_route "$P:$PP" "$B:5060" dave "$PW"; then fail "a paused proxy relayed"; fi
kam_resume p || fail "kam_resume p"
sipp_register_route "$P:$PP" "$B:5060" erin "$PW" || fail "REGISTER through the resumed proxy"
wait_for 3 "erin bound on b" kam_has_contacts b erin 1 || fail "erin not bound on b"
# killed proxy: port closed at once; started again under the same name
kam_kill p || fail "kam_kill p"
wait_for 2 "udp port $P:$PP to close" fx__udp_closed "$P" "$PP" || fail "udp $P:$PP still open"
kam_running p && fail "proxy p still running after kam_kill"
kam_start_proxy p "$P" "$PP" || fail "restart of the proxy p"
sipp_register_route "$P:$PP" "$A:5060" frank "$PW" || fail "REGISTER through the restarted proxy to a"
wait_for 3 "frank bound on a" kam_has_contacts a frank 1 || fail "frank not bound on a"
assert_eq "$(kam_contact_count b frank)" 0 "b: bindings of frank (routed to a)"
kam_stop p || fail "kam_stop p"
fx__udp_closed "$P" "$PP" || fail "udp $P:$PP still open after kam_stop"
fx_log "proxy ok"

# knob: log_opt logs every OPTIONS (off by default)
assert_eq "$(kam_count_options b)" 0 "OPTIONS logged without log_opt"
kam_force b log_opt 1 || fail "kam_force b log_opt 1"
sipp_options "$B" || fail "OPTIONS to b with log_opt"
assert_eq "$(kam_count_options b "$FX_LOCAL_IP")" 1 "OPTIONS from $FX_LOCAL_IP logged with log_opt"
assert_eq "$(kam_count_options b 127.9.9.9)" 0 "OPTIONS from another address"
kam_force b log_opt 0

# knob: answer OPTIONS with 404 (sipp expecting 200 fails at once), then normal
kam_force b opt_code 404 || fail "kam_force b opt_code 404"
if FX_SIPP_TIMEOUT=3 sipp_options "$B"; then fail "opt_code=404 still answered 200"; fi
kam_force b opt_code 0
sipp_options "$B" || fail "OPTIONS to b after opt_code=0"

# pause: silent server (socket open, no answer), then resume
kam_pause b
fx_udp_listening "$B" 5060 || fail "b: udp socket gone while paused"
if FX_SIPP_TIMEOUT=2 sipp_options "$B"; then fail "paused b answered OPTIONS"; fi
kam_resume b
sipp_options "$B" || fail "b does not answer after resume"
fx_log "pause/resume ok"

# kill a: the udp port closes at once, b still answers
t=$(fx__now_ms)
kam_kill a || fail "kam_kill a"
wait_for 2 "udp port $A:5060 to close" fx__udp_closed "$A" 5060 || fail "udp $A:5060 still open"
fx_log "kam_kill a: port closed after $(($(fx__now_ms) - t)) ms"
ss -Hlun | grep -q "$A:5060" && fail "ss -lun still shows $A:5060"
kam_running a && fail "a still running"
if FX_SIPP_TIMEOUT=2 sipp_options "$A"; then fail "killed a answered OPTIONS"; fi
sipp_options "$B" || fail "b does not answer after a was killed"
kam_rpc b core.uptime >/dev/null || fail "kamcmd to b failed"

# restart a under the same name: empty location table, answers again
kam_start a "$A" "$PW" || fail "restart of a"
assert_eq "$(kam_contact_count a alice)" 0 "a: bindings after restart"
sipp_options "$A" || fail "restarted a does not answer"

# graceful stop
kam_stop b || fail "kam_stop b"
fx__udp_closed "$B" 5060 || fail "udp $B:5060 still open after kam_stop"
pass
