#!/usr/bin/env bash
# RULES B.4 across a server failover: the primary is a name p.NAME with a
# port whose only A record points at a dead address (nothing listens: ICMP)
# and whose TTL is an hour, so nothing but B.4 ("every address failed: the
# name is resolved again before it is used next") can make the daemon ask
# for it again. The backup is a literal Kamailio b. The REGISTER through the
# dead address fails, every address of p has failed, the line fails over and
# registers on b. Then p's record is changed to a live Kamailio a and b is
# killed: the line goes back to the primary (A.2: the backup that worked
# failed; or return_delay after all failed - whichever path the daemon
# takes), p is looked up again (dnsmasq answers a second query for it from
# the daemon; the daemon logs the new answer) and the line registers on
# server 0 through a:5060, the binding at a. Without the re-resolution it
# would keep sending to the dead address of the hour-long answer.
# fx-timeout: 60
source "$(dirname "$0")/lib.sh"
fx_init
A=$(fx_ip 1)    # kamailio a: p's address after the change
B=$(fx_ip 2)    # kamailio b: the backup (literal)
DEAD=$(fx_ip 4) # p's address at first: nothing listens (ICMP)
D=$FX_DNS_DOMAIN
NAME=p.$D
LINE_USER=5321
RD=2 # return_delay, retry_delay

fx_udp_listening "$DEAD" 5060 && fail "something listens on $DEAD:5060; the test needs it closed"
kam_start a "$A" || fail "kamailio a"
kam_start b "$B" || fail "kamailio b"
dns_set_ttl 3600
dns_set_a "$NAME" "$DEAD"
dns_start || fail "dns_start"
assert_eq "$(dns_query "$NAME" A udp)" "$DEAD" "A of $NAME"
ttl=$(fx__dns_dig tcp 2 +noall +answer "$NAME" A | awk '{ print $2 }')
assert_eq "$ttl" 3600 "TTL of $NAME"

{
	sipuad_conf_common 100 "resolv_conf = \"$(dns_resolv_conf)\"; dns_timeout = 1;"
	cat <<EOF2
lines = (
  { id = "line1"; user = "$LINE_USER"; domain = "$D"; password = "$FX_KAM_PASSWORD";
    servers = ( { host = "$NAME"; port = 5060; expires = 60; },
                { host = "$B"; port = 5060; expires = 60; } );
    heartbeat = { interval = 1; };
    failover  = { retry_count = 2; return_delay = $RD; retry_delay = $RD; };
    failback  = { enabled = false; }; }
);
EOF2
} >"$FX_DIR/sipuad.conf"
"$SIPUAD_BIN" -n -c "$FX_DIR/sipuad.conf" >/dev/null || fail "the configuration is refused"

# Queries for p that reached dnsmasq (ours included: count before and after).
p_queries() { grep -cE "query\[A\] ${NAME//./\\.} from " "$(dns_log)" || true; }

# ---- 1. the dead address fails at once: the line is on the backup
sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 8 "line1 registered on the backup through b" sipuad_via line1 "$B:5060" ||
	fail "not registered through $B:5060: $(sipuad_line_json line1)"
assert_eq "$(sipuad_line line1 .server.index)" 1 "server index (the backup)"
assert_eq "$(sipuad_history_count line1 failover)" 1 "failover events (p -> b)"
wait_for 3 "$LINE_USER bound on b" kam_has_contacts b "$LINE_USER" 1 || fail "$LINE_USER not bound on b"
assert_eq "$(kam_contact_count a "$LINE_USER")" 0 "bindings at a (p pointed at $DEAD)"
assert_eq "$(kam_count_register a "$LINE_USER")" 0 "REGISTERs at a before the change"
ev=$(sipuad_events line1 failover | head -n 1)
assert_match "$(jq -r .from <<<"$ev")" "$NAME" "failover from (the primary)"
assert_match "$(jq -r .to <<<"$ev")" "$B:5060" "failover to (the backup)"
grep -qE "dns: ${NAME//./\\.} \([^)]*\): ${DEAD//./\\.}:5060 " "$FX_DIR/sipuad.log" ||
	fail "the daemon did not log the first answer for $NAME ($DEAD:5060)"

# ---- 2. p now points at a live registrar, and the backup dies
fx_log "$NAME -> $A; killing b"
dns_set_a "$NAME" "$A"
dns_reload || fail "dns_reload"
assert_eq "$(dns_query "$NAME" A udp)" "$A" "A of $NAME after the change"
q0=$(p_queries)
kam_kill b || fail "kam_kill b"
t0=$(fx__now_ms)
# heartbeat (1 s) + ICMP + the re-REGISTER on b (ICMP) + perhaps return_delay
# (2 s, jittered 50-100 %) + the lookup + the REGISTER at a: ~2-4 s; 12 s bound.
wait_for 12 "line1 registered through a" sipuad_via line1 "$A:5060" ||
	fail "not registered through $A:5060 (p's new address): $(sipuad_line_json line1); history: $(sipuad_history line1 12 | jq -c '[.kind, .from, .to, .reason]' | paste -sd' ')"
fx_log "through a after $(($(fx__now_ms) - t0)) ms"
assert_eq "$(sipuad_line line1 .server.index)" 0 "server index (the primary)"
assert_eq "$(sipuad_line line1 .server.host)" "$NAME" "server host (as configured)"
assert_eq "$(sipuad_line line1 '.addresses | join(",")')" "$A:5060" "status addresses (the new answer)"
assert_eq "$(sipuad_line line1 '.address_index | tostring')" 0 "status address_index"
assert_eq "$(sipuad_line line1 .dns.name)" "$NAME" "dns.name"
assert_eq "$(sipuad_line line1 '.dns.stale | tostring')" false "dns.stale"
wait_for 3 "$LINE_USER bound on a" kam_has_contacts a "$LINE_USER" 1 || fail "$LINE_USER not bound on a"
assert_match "$(kam_contacts a "$LINE_USER" | cut -f1)" ";srv=0" "contact at a (the primary's)"
(($(kam_count_register a "$LINE_USER" saved) >= 1)) || fail "a saved no REGISTER of $LINE_USER"

# The name was asked again (the hour-long answer had not run out): dnsmasq
# got a query for it after ours, and the daemon logged the new answer.
q1=$(p_queries)
fx_log "queries for $NAME at dnsmasq: $q0 before the kill, $q1 after"
((q1 > q0)) || fail "dnsmasq got no new query for $NAME after the change ($q0 -> $q1): no re-resolution"
grep -qE "dns: ${NAME//./\\.} \([^)]*\): ${A//./\\.}:5060 " "$FX_DIR/sipuad.log" ||
	fail "the daemon did not log the new answer for $NAME ($A:5060)"
# The way back: A.2 (the backup that worked failed: straight to the
# primary, a second "failover" event b -> p), or return_delay after every
# server failed (then a second failover p -> b in between, and an "error").
ev=$(sipuad_events line1 failover | tail -n 1)
assert_match "$(jq -r .from <<<"$ev")" "$B:5060" "last failover from (the backup)"
assert_match "$(jq -r .to <<<"$ev")" "$NAME" "last failover to (the primary)"
fx_log "history: $(sipuad_history line1 12 | jq -c '[.kind, .from, .to]' | tac | paste -sd' ')"

sipuad_stop 6 || fail "sipuad exit status $?"
assert_eq "$(kam_contact_count a "$LINE_USER")" 0 "$LINE_USER un-REGISTERed at SIGTERM"
pass
