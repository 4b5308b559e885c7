#!/usr/bin/env bash
# RULES B.4 through an outbound proxy: outbound_proxies = [ "proxy.NAME" ]
# whose A records are [P1, P2]; P1 has nothing listening (ICMP), P2 is a
# forwarding Kamailio. Two registrars (primary R1, backup R2) behind it.
#  1. The first REGISTER to P1 is unreachable -> the same server (the
#     primary) through P2: one "address" event P1 -> P2, no failover, the
#     binding at R1 (relayed by P2), none at R2.
#  2. A proxy comes up on P1 and P2 dies: the next heartbeat through P2
#     fails, the re-REGISTER through P2 too, and the walk goes on
#     circularly to P1 (tried before, working now): still the primary, no
#     failover; the binding at R1 is refreshed, nothing at R2.
# fx-timeout: 60
source "$(dirname "$0")/lib.sh"
fx_init
R1=$(fx_ip 1) # registrar, primary
R2=$(fx_ip 2) # registrar, backup
P1=$(fx_ip 3) # first proxy address: nothing there at first
P2=$(fx_ip 4) # second proxy address: a forwarding Kamailio
D=$FX_DNS_DOMAIN
PROXY=proxy.$D
LINE_USER=5316

kam_start r1 "$R1" || fail "kamailio r1"
kam_start r2 "$R2" || fail "kamailio r2"
kam_start_proxy p2 "$P2" || fail "kamailio proxy p2"
dns_set_a "$PROXY" "$P1" "$P2"
dns_start || fail "dns_start"
assert_eq "$(dns_query "$PROXY" A udp | paste -sd,)" "$P1,$P2" "A of $PROXY (record order)"

{
	sipuad_conf_common 100 "resolv_conf = \"$(dns_resolv_conf)\"; dns_timeout = 1;"
	cat <<EOF2
lines = (
  { id = "line1"; user = "$LINE_USER"; domain = "$D"; password = "$FX_KAM_PASSWORD";
    servers = ( { host = "$R1"; port = 5060; expires = 60; }, { host = "$R2"; port = 5060; expires = 60; } );
    outbound_proxies = [ "$PROXY:5060" ];
    heartbeat = { interval = 1; };
    failover  = { retry_count = 3; return_delay = 2; retry_delay = 2; };
    failback  = { enabled = true; interval = 2; }; }
);
EOF2
} >"$FX_DIR/sipuad.conf"

# ---- 1. P1 unreachable: the primary through P2
sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "line1 registered through P2" sipuad_via line1 "$P2:5060" ||
	fail "not registered through $P2:5060: $(sipuad_line_json line1)"
assert_eq "$(sipuad_line line1 .server.index)" 0 "server (the primary)"
assert_eq "$(sipuad_line line1 .proxy.index)" 0 "proxy index"
assert_eq "$(sipuad_line line1 .proxy.host)" "$PROXY:5060" "proxy host (as configured)"
assert_eq "$(sipuad_line line1 '.addresses | join(",")')" "$P1:5060,$P2:5060" "addresses (the proxy's, in record order)"
assert_eq "$(sipuad_line line1 .address_index)" 1 "address_index"
assert_eq "$(sipuad_line line1 .dns.name)" "$PROXY" "dns.name (the next hop's)"
assert_eq "$(sipuad_line line1 .failovers)" 0 "failovers"
ev=$(sipuad_events line1 address | head -n 1)
assert_eq "$(jq -r .from <<<"$ev")" "$P1:5060" "address event from"
assert_eq "$(jq -r .to <<<"$ev")" "$P2:5060" "address event to"
wait_for 3 "$LINE_USER bound at r1" kam_has_contacts r1 "$LINE_USER" 1 || fail "$LINE_USER not bound at r1"
assert_eq "$(kam_contact_count r2 "$LINE_USER")" 0 "bindings at r2"
(($(kam_count_relayed p2 REGISTER "sip:${R1//./\\.}:5060") >= 1)) || fail "p2 relayed no REGISTER to r1"
cid=$(kam_contacts r1 "$LINE_USER" | cut -f3)

# ---- 2. a proxy on P1, P2 dies: circular walk back to P1, same server
kam_start_proxy p1 "$P1" || fail "kamailio proxy p1"
kam_kill p2 || fail "kam_kill p2"
# heartbeat 1 s + a REGISTER that fails at once (ICMP) + one through P1
wait_for 5 "line1 registered through P1" sipuad_via line1 "$P1:5060" ||
	fail "not registered through $P1:5060: $(sipuad_line_json line1)"
assert_eq "$(sipuad_line line1 .server.index)" 0 "server after the walk (still the primary)"
assert_eq "$(sipuad_line line1 .address_index)" 0 "address_index after the walk"
assert_eq "$(sipuad_line line1 .failovers)" 0 "failovers after the walk"
assert_eq "$(sipuad_history_count line1 failover)" 0 "failover events"
ev=$(sipuad_history line1 | jq -c 'select(.kind == "address")' | head -n 1)
assert_eq "$(jq -r .from <<<"$ev")" "$P2:5060" "second address event from"
assert_eq "$(jq -r .to <<<"$ev")" "$P1:5060" "second address event to"
(($(kam_count_relayed p1 REGISTER "sip:${R1//./\\.}:5060") >= 1)) || fail "p1 relayed no REGISTER to r1"
wait_for 3 "one binding of $LINE_USER at r1" kam_has_contacts r1 "$LINE_USER" 1 || fail "$LINE_USER binding at r1"
assert_eq "$(kam_contact_count r2 "$LINE_USER")" 0 "bindings at r2 after the walk"
fx_log "binding Call-ID before $cid, after $(kam_contacts r1 "$LINE_USER" | cut -f3)"

sipuad_stop 6 || fail "sipuad exit status $?"
assert_eq "$(kam_contact_count r1 "$LINE_USER")" 0 "$LINE_USER un-REGISTERed (through P1) at SIGTERM"
pass
