#!/usr/bin/env bash
# RULES B.5: outbound_proxies = [ "missing.NAME", "proxy.NAME" ]; the first
# answers NXDOMAIN and has no last good answer, so the line takes the next
# proxy: history "proxy" from "missing.NAME" to "proxy.NAME" (the strings as
# configured) and a "dns" event naming the failed name. proxy.NAME resolves
# to a forwarding Kamailio (kam_start_proxy); the server is an IP literal
# registrar. Every request goes to the proxy with a preloaded Route naming
# the registrar: the REGISTER reaches the registrar through the proxy (the
# registrar sees it come from the proxy's address and binds the line's own
# Contact), the heartbeat OPTIONS too (none reaches the registrar directly).
# Status: .address is the proxy's address, .addresses the proxy's list,
# .proxy {"index":1,"host":"proxy.NAME"}, .server the registrar.
# fx-timeout: 60
source "$(dirname "$0")/lib.sh"
fx_init
R=$(fx_ip 1) # kamailio registrar
P=$(fx_ip 2) # kamailio proxy
D=$FX_DNS_DOMAIN
MISSING=missing.$D
PROXY=proxy.$D
LINE_USER=5314

kam_start reg "$R" || fail "kamailio registrar"
kam_start_proxy px "$P" || fail "kamailio proxy"
kam_force reg log_opt 1 || fail "kam_force reg log_opt 1"
dns_set_nxdomain "$MISSING"
dns_set_a "$PROXY" "$P"
dns_start || fail "dns_start"
assert_eq "$(dns_rcode "$MISSING" A udp)" NXDOMAIN "$MISSING A"
assert_eq "$(dns_rcode "$MISSING" SRV)" NXDOMAIN "$MISSING SRV"
assert_eq "$(dns_rcode "_sip._udp.$MISSING" SRV)" NXDOMAIN "_sip._udp.$MISSING SRV"
assert_eq "$(dns_query "$PROXY" A udp)" "$P" "A of $PROXY"
# sanity of the fixture: a REGISTER with a preloaded Route through the proxy
# reaches the registrar
sipp_register_route "$P" "$R:5060" 5399 || fail "fixture: sipp REGISTER through the proxy"
wait_for 3 "fixture: 5399 bound at the registrar" kam_has_contacts reg 5399 1 || fail "fixture: 5399 not bound"

{
	sipuad_conf_common 100 "resolv_conf = \"$(dns_resolv_conf)\"; dns_timeout = 1;"
	cat <<EOF2
lines = (
  { id = "line1"; user = "$LINE_USER"; domain = "$D"; password = "$FX_KAM_PASSWORD";
    servers = ( { host = "$R"; port = 5060; expires = 60; } );
    outbound_proxies = [ "$MISSING", "$PROXY" ];
    heartbeat = { interval = 1; };
    failover  = { retry_count = 3; return_delay = 2; retry_delay = 2; }; }
);
EOF2
} >"$FX_DIR/sipuad.conf"
"$SIPUAD_BIN" -n -c "$FX_DIR/sipuad.conf" >/dev/null || fail "the configuration is refused"

reg_from_p0=$(kam_log_count reg "REGISTER sip:$LINE_USER@[^ ]* from ${P//./\\.}:5060: saved")
sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
t0=$(fx__now_ms)
# NXDOMAIN (at once) + the second proxy's lookup + REGISTER and challenge
# through the proxy: well under 1 s; 5 s bound (dns_timeout 1 s included).
wait_for 5 "line1 registered through the proxy" sipuad_via line1 "$P:5060" ||
	fail "not registered through $P:5060: $(sipuad_line_json line1)"
fx_log "registered through the proxy after $(($(fx__now_ms) - t0)) ms"

assert_eq "$(sipuad_line line1 '.proxy.index')" 1 "status proxy.index"
assert_eq "$(sipuad_line line1 '.proxy.host')" "$PROXY" "status proxy.host (as configured)"
assert_eq "$(sipuad_line line1 '.addresses | join(",")')" "$P:5060" "status addresses (the proxy's)"
assert_eq "$(sipuad_line line1 '.address_index | tostring')" 0 "status address_index"
assert_eq "$(sipuad_line line1 .server.index)" 0 "server index"
assert_eq "$(sipuad_line line1 .server.host)" "$R" "server host"
assert_eq "$(sipuad_line line1 .failovers)" 0 "failovers (a proxy switch is no server failover)"

(($(sipuad_history_count line1 proxy) >= 1)) || fail "no proxy event: $(sipuad_history line1)"
ev=$(sipuad_events line1 proxy | head -n 1)
assert_eq "$(jq -r .from <<<"$ev")" "$MISSING" "proxy event from (as configured)"
assert_eq "$(jq -r .to <<<"$ev")" "$PROXY" "proxy event to (as configured)"
ev=$(sipuad_events line1 dns | grep -F "$MISSING" | head -n 1)
[[ -n $ev ]] || fail "no dns event naming $MISSING: $(sipuad_history line1)"
fx_log "dns event: $ev"

# The REGISTER went through the proxy: the registrar saved it coming from
# the proxy's address, the proxy relayed it to the registrar named by the
# preloaded Route, and the binding is the line's own Contact.
wait_for 3 "$LINE_USER bound at the registrar" kam_has_contacts reg "$LINE_USER" 1 || fail "$LINE_USER not bound at the registrar"
assert_match "$(kam_contacts reg "$LINE_USER" | cut -f1)" "^sip:$LINE_USER@${FX_LOCAL_IP//./\\.}:[0-9]+.*;line=line1" "the line's contact at the registrar"
got=$(($(kam_log_count reg "REGISTER sip:$LINE_USER@[^ ]* from ${P//./\\.}:5060: saved") - reg_from_p0))
((got >= 1)) || fail "the registrar saved no REGISTER of $LINE_USER coming from the proxy $P:5060"
assert_eq "$(kam_log_count reg "REGISTER sip:$LINE_USER@[^ ]* from ${FX_LOCAL_IP//./\\.}:")" 0 "REGISTERs of $LINE_USER that reached the registrar directly"
(($(kam_count_relayed px REGISTER "sip:${R//./\\.}:5060") >= 2)) ||
	fail "the proxy did not relay the REGISTER and its authenticated retry to sip:$R:5060"

# Heartbeats go the same way (every request through the proxy): over a 2.5 s
# window (heartbeat 1 s) the proxy relays OPTIONS to the registrar, which
# gets none straight from the daemon; the line stays on proxy 1.
o_px=$(kam_count_relayed px OPTIONS "sip:${R//./\\.}:5060")
o_reg=$(kam_count_options reg "$P")
for ((i = 0; i < 5; i++)); do
	sipuad_via line1 "$P:5060" || fail "line1 moved: $(sipuad_line_json line1)"
	assert_eq "$(sipuad_line line1 .proxy.index)" 1 "proxy index during the window"
	sleep 0.5
done
(($(kam_count_relayed px OPTIONS "sip:${R//./\\.}:5060") > o_px)) || fail "the proxy relayed no heartbeat OPTIONS"
(($(kam_count_options reg "$P") > o_reg)) || fail "the registrar got no OPTIONS through the proxy"
assert_eq "$(kam_count_options reg "$FX_LOCAL_IP")" 0 "OPTIONS that reached the registrar directly"
assert_eq "$(kam_log_count px "no Route: 404")" 0 "requests the proxy refused for want of a Route"

sipuad_stop 6 || fail "sipuad exit status $?"
assert_eq "$(kam_contact_count reg "$LINE_USER")" 0 "$LINE_USER un-REGISTERed (through the proxy) at SIGTERM"
pass
