#!/usr/bin/env bash
# RULES C with RULES B: the failback probe walks the primary's addresses.
# The primary is a name p.NAME with a port, A records [DEAD, A] (TTL an
# hour): nothing listens on DEAD (ICMP), a Kamailio on A. The backup is a
# literal Kamailio b. Failback every 2 s (a probe every 1-2 s), heartbeat
# 1 s.
#  1. The REGISTER through DEAD fails at once: "address" event DEAD -> A,
#     registered on the primary through A.
#  2. a is killed: the heartbeat and the re-REGISTER through A fail, DEAD
#     too, the line fails over to b.
#  3. While a is down the probes fail; each failed probe tries the
#     primary's next address, so both A and DEAD get probes (not the first
#     record only).
#  4. a comes back: a probe reaches A within a few probe intervals and the
#     line fails back to the primary through A:5060 - one "failback" event,
#     the binding at a, the backup's binding released. With probes only ever
#     sent to the first record (DEAD) it would stay on b for good.
# fx-timeout: 60
source "$(dirname "$0")/lib.sh"
fx_init
A=$(fx_ip 1)    # kamailio a: p's second address
B=$(fx_ip 2)    # kamailio b: the backup (literal)
DEAD=$(fx_ip 4) # p's first address: nothing listens (ICMP)
D=$FX_DNS_DOMAIN
NAME=p.$D
LINE_USER=5323

fx_udp_listening "$DEAD" 5060 && fail "something listens on $DEAD:5060; the test needs it closed"
kam_start a "$A" || fail "kamailio a"
kam_start b "$B" || fail "kamailio b"
dns_set_ttl 3600
dns_set_a "$NAME" "$DEAD" "$A"
dns_start || fail "dns_start"
assert_eq "$(dns_query "$NAME" A udp | paste -sd,)" "$DEAD,$A" "A of $NAME (record order)"

{
	sipuad_conf_common 100 "resolv_conf = \"$(dns_resolv_conf)\"; dns_timeout = 1;"
	cat <<EOF2
lines = (
  { id = "line1"; user = "$LINE_USER"; domain = "$D"; password = "$FX_KAM_PASSWORD";
    servers = ( { host = "$NAME"; port = 5060; expires = 60; },
                { host = "$B"; port = 5060; expires = 60; } );
    heartbeat = { interval = 1; };
    failover  = { retry_count = 2; return_delay = 60; retry_delay = 60; };
    failback  = { enabled = true; interval = 2; }; }
);
EOF2
} >"$FX_DIR/sipuad.conf"
"$SIPUAD_BIN" -n -c "$FX_DIR/sipuad.conf" >/dev/null || fail "the configuration is refused"

# REGISTERs the daemon sent to IP:5060 in its log after line N.
sent_to() {
	sipuad_sent "$1" | grep -cxF "REGISTER udp/$2:5060" || true
}

# ---- 1. DEAD fails at once: the primary through A
sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "line1 registered through a" sipuad_via line1 "$A:5060" ||
	fail "not registered through $A:5060: $(sipuad_line_json line1)"
assert_eq "$(sipuad_line line1 .server.index)" 0 "server index (the primary)"
assert_eq "$(sipuad_line line1 '.addresses | join(",")')" "$DEAD:5060,$A:5060" "status addresses (record order)"
assert_eq "$(sipuad_line line1 '.address_index | tostring')" 1 "status address_index"
ev=$(sipuad_events line1 address | head -n 1)
assert_eq "$(jq -r .from <<<"$ev")" "$DEAD:5060" "address event from"
assert_eq "$(jq -r .to <<<"$ev")" "$A:5060" "address event to"
wait_for 3 "$LINE_USER bound on a" kam_has_contacts a "$LINE_USER" 1 || fail "$LINE_USER not bound on a"

# ---- 2. a dies: the line fails over to b
fx_log "killing a"
kam_kill a || fail "kam_kill a"
wait_for 6 "line1 registered on the backup through b" sipuad_via line1 "$B:5060" ||
	fail "not registered through $B:5060: $(sipuad_line_json line1)"
mark=$(($(wc -l <"$FX_DIR/sipuad.log") + 1))
assert_eq "$(sipuad_line line1 .server.index)" 1 "server index (the backup)"
assert_eq "$(sipuad_history_count line1 failover)" 1 "failover events"
assert_eq "$(sipuad_history_count line1 failback)" 0 "failback events before a is back"
wait_for 3 "$LINE_USER bound on b" kam_has_contacts b "$LINE_USER" 1 || fail "$LINE_USER not bound on b"

# ---- 3. probes while a is down: each failed probe tries the next address
probed_both() {
	local na nd
	na=$(sent_to "$mark" "$A") nd=$(sent_to "$mark" "$DEAD")
	((na >= 1 && nd >= 1)) || { echo "probes since the failover: $na to $A, $nd to $DEAD" >&2; return 1; }
}
# two probes, 1-2 s apart: 4 s; 8 s bound
wait_for 8 "failback probes to both of p's addresses" probed_both ||
	fail "the probes do not rotate over p's addresses: $(sipuad_line_json line1)"
fx_log "probes while a is down: $(sent_to "$mark" "$A") to a, $(sent_to "$mark" "$DEAD") to $DEAD"
sipuad_via line1 "$B:5060" || fail "line1 left b while the primary is down: $(sipuad_line_json line1)"
assert_eq "$(sipuad_history_count line1 failback)" 0 "failback events while a is down"

# ---- 4. a is back: failback through A
fx_log "starting a again"
kam_start a "$A" || fail "kamailio a again"
t0=$(fx__now_ms)
on_a() { sipuad_on line1 0 && sipuad_via line1 "$A:5060"; }
# at most two probes (one may go to DEAD first), 1-2 s apart, + REGISTER and
# challenge: ~4 s; 15 s bound.
wait_for 15 "line1 back on the primary through a" on_a ||
	fail "no failback through $A:5060: $(sipuad_line_json line1); REGISTERs since the failover: $(sent_to "$mark" "$A") to a, $(sent_to "$mark" "$DEAD") to $DEAD"
fx_log "failed back through a $(($(fx__now_ms) - t0)) ms after its restart"
assert_eq "$(sipuad_line line1 '.addresses | join(",")')" "$DEAD:5060,$A:5060" "status addresses after the failback"
assert_eq "$(sipuad_line line1 '.address_index | tostring')" 1 "status address_index after the failback"
assert_eq "$(sipuad_history_count line1 failback)" 1 "failback events"
ev=$(sipuad_events line1 failback | head -n 1)
assert_match "$(jq -r .from <<<"$ev")" "$B:5060" "failback from (the backup)"
assert_match "$(jq -r .to <<<"$ev")" "$NAME" "failback to (the primary)"
assert_eq "$(sipuad_history_count line1 failover)" 1 "failover events (the failback is none)"
wait_for 3 "$LINE_USER bound on a" kam_has_contacts a "$LINE_USER" 1 || fail "$LINE_USER not bound on a"
assert_match "$(kam_contacts a "$LINE_USER" | cut -f1)" ";srv=0" "contact at a (the primary's)"
wait_for 3 "the backup binding released" kam_has_contacts b "$LINE_USER" 0 || fail "$LINE_USER still bound on b"

# Stays (no flapping): 2 s window.
for ((i = 0; i < 4; i++)); do
	on_a || fail "line1 moved after the failback: $(sipuad_line_json line1)"
	sleep 0.5
done
assert_eq "$(sipuad_history_count line1 failback)" 1 "failback events after 2 s"

sipuad_stop 6 || fail "sipuad exit status $?"
assert_eq "$(kam_contact_count a "$LINE_USER")" 0 "$LINE_USER un-REGISTERed at SIGTERM"
pass
