#!/usr/bin/env bash
# RULES A.7 through an outbound proxy: a heartbeat answered by the proxy
# because it cannot reach the server is no proof of the server's life.
# One forwarding Kamailio proxy (kam_start_proxy, by IP literal) is the only
# outbound proxy; two registrars behind it by literal, r1 primary and r2
# backup, over TCP (so the proxy learns at once that r1 is gone: its
# connect is refused and tm answers 477 itself; over UDP it would stay
# silent for tm's fr_timer, 30 s, and sipuad's own T1 timeout would decide).
# The fixture's proxy answers a failed t_relay() twice: first a stateless
# "500 I'm terribly sorry, server error occurred (1/SL)" from
# sl_reply_error(), then tm's "477 Unfortunately error on sending to next
# hop occurred". nta takes the first final response, and sipuad counts a
# 5xx to an OPTIONS through a proxy as the proxy's verdict on the server
# too. This test runs the proxy without that sl_reply_error() line (tm's
# 477 alone); t_dns_proxy_heartbeat_stock.sh runs it with the stock
# template (FX_PROXY_STOCK=1: the 500 comes first), as Kamailio's own
# default configuration answers.
#  1. Registered at r1 through the proxy; the heartbeats are relayed to r1.
#  2. r1 is killed: the next heartbeat OPTIONS draws the proxy's 477; the
#     line registers again on r1 (A.7), the proxy answers 477 again, and the
#     line fails over to r2 through the same proxy: server index 1, the
#     binding at r2 relayed by the proxy, one "failover" event whose reason
#     carries the proxy's 477 - within a few heartbeats.
#  3. It stays on r2: the failback probes to r1 get 477 too, no failback.
# fx-timeout: 60
source "$(dirname "$0")/lib.sh"
fx_init
R1=$(fx_ip 1) # registrar, primary
R2=$(fx_ip 2) # registrar, backup
P=$(fx_ip 4)  # forwarding proxy
D=$FX_DNS_DOMAIN
LINE_USER=5324
HB=1

CODE=477 # the proxy's answer the daemon sees first
if [[ ${FX_PROXY_STOCK:-0} == 1 ]]; then
	CODE=500
else
	# The proxy without the stateless 500 after a failed t_relay().
	n=$(grep -c '^[[:space:]]*sl_reply_error();' "$FX_KAM_PROXY_TEMPLATE" || true)
	assert_eq "$n" 1 "sl_reply_error() lines in $(basename "$FX_KAM_PROXY_TEMPLATE") (the test removes it)"
	sed '/^[[:space:]]*sl_reply_error();/d' "$FX_KAM_PROXY_TEMPLATE" >"$FX_DIR/kamailio-proxy-tm-reply.cfg.in" || fail "proxy template"
	FX_KAM_PROXY_TEMPLATE=$FX_DIR/kamailio-proxy-tm-reply.cfg.in
fi

kam_start r1 "$R1" || fail "kamailio r1"
kam_start r2 "$R2" || fail "kamailio r2"
kam_start_proxy px "$P" || fail "kamailio proxy"

{
	sipuad_conf_common 100
	cat <<EOF2
lines = (
  { id = "line1"; user = "$LINE_USER"; domain = "$D"; password = "$FX_KAM_PASSWORD";
    servers = ( { host = "$R1"; port = 5060; transport = "tcp"; expires = 60; },
                { host = "$R2"; port = 5060; transport = "tcp"; expires = 60; } );
    outbound_proxies = [ "$P:5060" ];
    heartbeat = { interval = $HB; };
    failover  = { retry_count = 2; return_delay = 2; retry_delay = 2; };
    failback  = { enabled = true; interval = 2; }; }
);
EOF2
} >"$FX_DIR/sipuad.conf"
"$SIPUAD_BIN" -n -c "$FX_DIR/sipuad.conf" >/dev/null || fail "the configuration is refused"

r1re=${R1//./\\.}
r2re=${R2//./\\.}

# ---- 1. at r1 through the proxy
sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "line1 registered through the proxy" sipuad_via line1 "$P:5060" ||
	fail "not registered through $P:5060: $(sipuad_line_json line1)"
assert_eq "$(sipuad_line line1 .server.index)" 0 "server index (r1)"
assert_eq "$(sipuad_line line1 .server.transport)" tcp "server transport"
assert_eq "$(sipuad_line line1 .proxy.index)" 0 "proxy index"
wait_for 3 "$LINE_USER bound at r1" kam_has_contacts r1 "$LINE_USER" 1 || fail "$LINE_USER not bound at r1"
(($(kam_count_relayed px REGISTER "sip:$r1re:5060") >= 1)) || fail "the proxy relayed no REGISTER to r1"
o1=$(kam_count_relayed px OPTIONS "sip:$r1re:5060")
more_options() { (($(kam_count_relayed px OPTIONS "sip:$r1re:5060") > o1)); }
wait_for $((HB + 2)) "a heartbeat relayed to r1" more_options || fail "no heartbeat OPTIONS relayed to r1"
sipuad_on line1 0 || fail "line1 after a heartbeat: $(sipuad_line_json line1)"
assert_eq "$(kam_log_count px 'relay [A-Z]+ [^ ]* to [^ ]* failed')" 0 "relay failures before the kill"

# ---- 2. r1 dies: the proxy answers 477, the line fails over to r2
fx_log "killing r1"
kam_kill r1 || fail "kam_kill r1"
t0=$(fx__now_ms)
on_r2() { sipuad_on line1 1 && sipuad_via line1 "$P:5060"; }
# heartbeat (1 s) + 477 to the OPTIONS + 477 to the re-REGISTER + REGISTER
# and challenge at r2: ~1.1 s; 5 s bound (a few heartbeats).
wait_for $((HB * 3 + 2)) "line1 on r2 through the proxy" on_r2 ||
	fail "not on r2 through the proxy: $(sipuad_line_json line1); history: $(sipuad_history line1 8 | jq -c '[.kind, .from, .to, .reason]' | paste -sd' ')"
dt=$(($(fx__now_ms) - t0))
fx_log "on r2 after $dt ms"
assert_eq "$(sipuad_line line1 .proxy.index)" 0 "proxy index (the same proxy)"
assert_eq "$(sipuad_line line1 .server.host)" "$R2" "server host"

# The heartbeat's verdict was the proxy's 477 (not sipuad's own timeout),
# and the re-REGISTER went to r1 first (A.7), answered 477 too.
(($(kam_log_count px "relay OPTIONS [^ ]* to sip:$r1re:5060[^ ]* failed") >= 1)) ||
	fail "the proxy logged no failed relay of an OPTIONS to r1"
(($(kam_log_count px "relay REGISTER [^ ]* to sip:$r1re:5060[^ ]* failed") >= 1)) ||
	fail "the proxy logged no failed relay of a REGISTER to r1 (no re-REGISTER on the same server)"
grep -qE "line1: registered -> registering \(OPTIONS .*$CODE" "$FX_DIR/sipuad.log" ||
	fail "the daemon did not re-register on the proxy's $CODE to the heartbeat: $(grep -E 'line1: registered -> ' "$FX_DIR/sipuad.log" | tail -n 3)"
assert_eq "$(sipuad_history_count line1 failover)" 1 "failover events"
ev=$(sipuad_events line1 failover | head -n 1)
fx_log "failover: $ev"
assert_match "$(jq -r .from <<<"$ev")" "$r1re:5060" "failover from (r1)"
assert_match "$(jq -r .to <<<"$ev")" "$r2re:5060" "failover to (r2)"
assert_match "$(jq -r .reason <<<"$ev")" "$CODE" "failover reason (the proxy's answer)"

wait_for 3 "$LINE_USER bound at r2" kam_has_contacts r2 "$LINE_USER" 1 || fail "$LINE_USER not bound at r2"
assert_match "$(kam_contacts r2 "$LINE_USER" | cut -f1)" ";srv=1" "contact at r2 (the backup's)"
(($(kam_count_relayed px REGISTER "sip:$r2re:5060") >= 1)) || fail "the proxy relayed no REGISTER to r2"
(($(kam_count_register r2 "$LINE_USER" saved) >= 1)) || fail "r2 saved no REGISTER of $LINE_USER"
# Every request the daemon sent went to the proxy (the proxy's own TCP
# connections to r1/r2 leave from an address of its choosing, so the
# registrars' logs cannot tell relayed from direct).
other=$(sipuad_sent | grep -vcE " tcp/${P//./\\.}:5060\$" || true)
assert_eq "$other" 0 "requests the daemon sent elsewhere than to the proxy"

# ---- 3. it stays on r2 (2.5 s window: heartbeats through the proxy to r2
# answered, failback probes to r1 answered 477 by the proxy)
o2=$(kam_count_relayed px OPTIONS "sip:$r2re:5060")
for ((i = 0; i < 5; i++)); do
	on_r2 || fail "line1 left r2: $(sipuad_line_json line1)"
	sleep 0.5
done
(($(kam_count_relayed px OPTIONS "sip:$r2re:5060") > o2)) || fail "no heartbeat relayed to r2 in 2.5 s"
assert_eq "$(sipuad_history_count line1 failover)" 1 "failover events after the window"
assert_eq "$(sipuad_history_count line1 failback)" 0 "failback events (r1 is down)"
assert_eq "$(kam_contact_count r2 "$LINE_USER")" 1 "bindings at r2 after the window"

sipuad_stop 6 || fail "sipuad exit status $?"
assert_eq "$(kam_contact_count r2 "$LINE_USER")" 0 "$LINE_USER un-REGISTERed (through the proxy) at SIGTERM"
pass
