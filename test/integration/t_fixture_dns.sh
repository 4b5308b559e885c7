#!/bin/bash
# Self-test of the DNS fixture (lib.sh dns_*); needs no sipuad. One dnsmasq
# on $FX_DNS_IP:$FX_DNS_PORT (127.0.0.53:53; both may be moved):
#   - A records in the given order on every query, AAAA, SRV with two
#     priorities and two targets (rotated by UDP queries, never by dns_query),
#     NXDOMAIN for a dns_set_nxdomain name, for an unknown test name and for a
#     name outside the test set, nothing forwarded;
#   - dns_reload: SIGHUP for A/AAAA changes (same process), a restart for SRV
#     and TTL changes; dns_set_ttl shows in the answers;
#   - pause: udp and tcp queries time out (bounded) while the port stays
#     bound; resume answers again; stop closes the port; start again.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
fx_init

D=$FX_DNS_DOMAIN
PROXY=proxy.$D
SRV=_sip._udp.$D

# refuses addresses off loopback
assert_fails "dns_start off loopback" dns_start 192.0.2.1
dns_running && fail "dnsmasq running after a refused dns_start"

dns_set_a "$PROXY" 127.0.0.3 127.0.0.2
dns_set_aaaa "$PROXY" ::1
dns_set_a "a.$D" 127.0.0.2
dns_set_a "b.$D" 127.0.0.3
dns_set_srv "$SRV" "b.$D" 5062 20 10
dns_set_srv "$SRV" "a.$D" 5060 10 50
dns_set_a "gone.$D" 127.0.0.9
dns_set_nxdomain "gone.$D" # had a record: set_nxdomain removes it
dns_set_nxdomain "never.$D"

t=$(fx__now_ms)
dns_start || fail "dns_start"
fx_log "dns_start: $(($(fx__now_ms) - t)) ms on $(dns_ip):$(dns_port)"
want="nameserver $FX_DNS_IP"
((FX_DNS_PORT == 53)) || want+=$'\n'"port $FX_DNS_PORT"
assert_eq "$(cat "$(dns_resolv_conf)")" "$want" "resolv.conf"
fx_udp_listening "$FX_DNS_IP" "$FX_DNS_PORT" || fail "no udp socket on $FX_DNS_IP:$FX_DNS_PORT"
fx_tcp_listening "$FX_DNS_IP" "$FX_DNS_PORT" || fail "no tcp listener on $FX_DNS_IP:$FX_DNS_PORT"
fx__dns_port_busy "$FX_DNS_IP" "$FX_DNS_PORT" >/dev/null || fail "the busy-port check does not see dnsmasq"
assert_fails "second dns_start" dns_start
pgid=$(cat "$FX_DIR/dns/pgid")

# A: the given order, every time (no round robin), udp and tcp
for i in 1 2 3; do
	assert_eq "$(dns_query "$PROXY" A udp)" $'127.0.0.3\n127.0.0.2' "A of $PROXY, udp query $i"
done
assert_eq "$(dns_query "$PROXY")" $'127.0.0.3\n127.0.0.2' "A of $PROXY, tcp"
assert_eq "$(dns_query "$PROXY" AAAA)" "::1" "AAAA of $PROXY"
assert_eq "$(dns_rcode "$PROXY" SRV)" NOERROR "SRV of $PROXY (NODATA)"
assert_eq "$(dns_query "$PROXY" SRV)" "" "SRV of $PROXY (no answer)"

# SRV: tcp queries (dns_query's default) do not rotate; udp queries do, the
# first one after the start giving the order of dns_set_srv
srv1=$'20 10 5062 b.sipuad.test\n10 50 5060 a.sipuad.test'
srv2=$'10 50 5060 a.sipuad.test\n20 10 5062 b.sipuad.test'
[[ $D == sipuad.test ]] || { srv1=${srv1//sipuad.test/$D}; srv2=${srv2//sipuad.test/$D}; }
assert_eq "$(dns_query "$SRV" SRV)" "$srv1" "SRV, tcp 1"
assert_eq "$(dns_query "$SRV" SRV)" "$srv1" "SRV, tcp 2"
assert_eq "$(dns_query "$SRV" SRV udp)" "$srv1" "SRV, first udp query"
assert_eq "$(dns_query "$SRV" SRV udp)" "$srv2" "SRV, second udp query (rotated)"
assert_eq "$(dns_query "$SRV" SRV udp)" "$srv1" "SRV, third udp query"
assert_eq "$(dns_query "$SRV" SRV)" "$srv2" "SRV, tcp after 3 udp queries"
assert_eq "$(dns_query "a.$D")" 127.0.0.2 "A of SRV target a"
fx_log "SRV rotates on udp only"

# NXDOMAIN: set, unknown in the test domain, outside it (nothing forwarded)
assert_eq "$(dns_rcode "gone.$D")" NXDOMAIN "gone.$D"
assert_eq "$(dns_query "gone.$D")" "" "gone.$D answers"
assert_eq "$(dns_rcode "never.$D" AAAA)" NXDOMAIN "never.$D AAAA"
assert_eq "$(dns_rcode "unknown.$D")" NXDOMAIN "unknown.$D"
assert_eq "$(dns_rcode example.com A udp)" NXDOMAIN "example.com (outside the test set)"
assert_eq "$(dns_rcode debian.org SRV)" NXDOMAIN "debian.org SRV (outside the test set)"
grep -q 'config example.com is NXDOMAIN' "$(dns_log)" || fail "example.com was not answered locally"
if grep -E 'forwarded|reply .* is ' "$(dns_log)"; then fail "dnsmasq forwarded a query"; fi

# change A records: SIGHUP, same process
t=$(fx__now_ms)
dns_set_a "$PROXY" 127.0.0.4 127.0.0.3 127.0.0.2
dns_set_a "new.$D" 127.0.0.5
dns_clear "$PROXY" AAAA
dns_reload || fail "dns_reload (A records)"
fx_log "dns_reload (SIGHUP): $(($(fx__now_ms) - t)) ms"
assert_eq "$(cat "$FX_DIR/dns/pgid")" "$pgid" "dnsmasq restarted for an A change"
assert_eq "$(dns_query "$PROXY" A udp)" $'127.0.0.4\n127.0.0.3\n127.0.0.2' "A of $PROXY after reload"
assert_eq "$(dns_query "new.$D")" 127.0.0.5 "A of new.$D after reload"
assert_eq "$(dns_rcode "$PROXY" AAAA)" NOERROR "AAAA of $PROXY after dns_clear (NODATA)"
assert_eq "$(dns_query "$PROXY" AAAA)" "" "AAAA of $PROXY after dns_clear"
dns_set_nxdomain "new.$D"
dns_reload || fail "dns_reload (nxdomain)"
assert_eq "$(dns_rcode "new.$D")" NXDOMAIN "new.$D after dns_set_nxdomain"
# SRV records of the earlier start are unchanged and keep rotating
assert_eq "$(dns_query "$SRV" SRV)" "$srv2" "SRV after a SIGHUP"

# change SRV records and the TTL: restart, fresh rotation
t=$(fx__now_ms)
dns_set_srv "$SRV" "a.$D" 5060 10 60 # same target and port: replaced
dns_set_srv "$SRV" "new.$D" 5064 30 0
dns_set_a "new.$D" 127.0.0.6
dns_set_ttl 2
dns_reload || fail "dns_reload (SRV, TTL)"
fx_log "dns_reload (restart): $(($(fx__now_ms) - t)) ms"
assert_ne "$(cat "$FX_DIR/dns/pgid")" "$pgid" "dnsmasq was not restarted for an SRV change"
fx_group_alive "$pgid" && fail "old dnsmasq (group $pgid) still alive after the restart"
srv3=$'20 10 5062 b.sipuad.test\n10 60 5060 a.sipuad.test\n30 0 5064 new.sipuad.test'
[[ $D == sipuad.test ]] || srv3=${srv3//sipuad.test/$D}
assert_eq "$(dns_query "$SRV" SRV udp)" "$srv3" "SRV after the restart, first udp query"
assert_eq "$(dns_query "new.$D")" 127.0.0.6 "A of new.$D"
ttls=$(fx__dns_dig tcp 2 +noall +answer "$PROXY" A | awk '{ print $2 }' | sort -u)
assert_eq "$ttls" 2 "TTL of $PROXY after dns_set_ttl 2"
ttls=$(fx__dns_dig tcp 2 +noall +answer "$SRV" SRV | awk '{ print $2 }' | sort -u)
assert_eq "$ttls" 2 "TTL of $SRV after dns_set_ttl 2"
pgid=$(cat "$FX_DIR/dns/pgid")

# pause: the socket stays, queries time out (bounded), nothing else
dns_pause
fx_udp_listening "$FX_DNS_IP" "$FX_DNS_PORT" || fail "udp socket gone while paused"
assert_fails "dns_reload while paused" dns_reload
t=$(fx__now_ms)
if FX_DNS_QUERY_TIMEOUT=1 dns_query "$PROXY" A udp; then fail "paused dnsmasq answered over udp"; fi
dt=$(($(fx__now_ms) - t))
fx_log "udp query to the paused server failed after $dt ms"
((dt >= 900 && dt < 3000)) || fail "udp query to the paused server failed after $dt ms, want ~1 s (a timeout)"
if FX_DNS_QUERY_TIMEOUT=1 dns_query "$PROXY" A tcp; then fail "paused dnsmasq answered over tcp"; fi
dns_resume || fail "dns_resume"
assert_eq "$(dns_query "$PROXY" A udp)" $'127.0.0.4\n127.0.0.3\n127.0.0.2' "A after resume"
fx_log "pause/resume ok"

# stop: the ports close, a query is refused at once
t=$(fx__now_ms)
dns_stop || fail "dns_stop"
fx_log "dns_stop: $(($(fx__now_ms) - t)) ms"
fx__udp_closed "$FX_DNS_IP" "$FX_DNS_PORT" || fail "udp $FX_DNS_IP:$FX_DNS_PORT still open after dns_stop"
fx__tcp_closed "$FX_DNS_IP" "$FX_DNS_PORT" || fail "tcp $FX_DNS_IP:$FX_DNS_PORT still open after dns_stop"
fx_group_alive "$pgid" && fail "dnsmasq (group $pgid) alive after dns_stop"
dns_running && fail "dns_running after dns_stop"
t=$(fx__now_ms)
if dns_query "$PROXY" A udp 2>/dev/null; then fail "stopped dnsmasq answered"; fi
dt=$(($(fx__now_ms) - t))
((dt < 900)) || fail "query to the stopped server took $dt ms, want a refusal at once"
[[ -e $FX_DIR/.fx/track/pgid.$pgid ]] && fail "stopped dnsmasq still tracked"

# start again: same records, left running for fx_cleanup to stop
dns_start || fail "dns_start after dns_stop"
assert_eq "$(dns_query "$PROXY")" $'127.0.0.4\n127.0.0.3\n127.0.0.2' "A after a restart"
assert_eq "$(dns_rcode "gone.$D")" NXDOMAIN "gone.$D after a restart"
[[ -e $FX_DIR/.fx/track/pgid.$(cat "$FX_DIR/dns/pgid") ]] || fail "dnsmasq not tracked for fx_cleanup"
pass
