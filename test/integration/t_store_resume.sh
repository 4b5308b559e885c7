#!/usr/bin/env bash
# RULES D: state survives a power cut. A line that failed over to the backup
# is SIGKILLed; restarted, it resumes on the backup at once (its first
# REGISTER goes there, not to the dead primary), refreshes the *same*
# binding (same Call-ID: one contact at the registrar, not two), keeps its
# history (with a restart event) and goes on probing the primary.
source "$(dirname "$0")/lib.sh"
fx_init
kam_start a "$(fx_ip 1)" || fail "kamailio a"
kam_start b "$(fx_ip 2)" || fail "kamailio b"
A=$(fx_ip 1)
B=$(fx_ip 2)
PORT=$(fx_free_port) # a fixed port: the Contact must be the same after the restart
{
	sipuad_conf_common
	cat <<EOF
lines = ( { id = "line1"; user = "9001"; domain = "sipuad.test"; password = "s3cr3t-pw";
            servers = ( { host = "$A"; expires = 60; }, { host = "$B"; expires = 60; } );
            heartbeat = { interval = 1; }; failback = { interval = 4; }; } );
EOF
} >"$FX_DIR/sipuad.conf"
sed -i "s/port = 0;/port = $PORT;/" "$FX_DIR/sipuad.conf"

sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start"
wait_for 5 "line1 on the primary" sipuad_on line1 0 || fail "line1"
kam_kill a
wait_for 5 "line1 on the backup" sipuad_on line1 1 || fail "no failover"
cid=$(kam_contacts b 9001 | cut -f3)
[[ -n $cid ]] || fail "no binding on b"

# Power cut: no un-REGISTER, nothing flushed by a clean exit.
kill -KILL "$SIPUAD_PID"
wait_for 5 "sipuad gone" fx__pid_dead "$SIPUAD_PID" || fail "still alive"
wait "$SIPUAD_PID" 2>/dev/null
fx_untrack "$SIPUAD_PID"
assert_eq "$(sqlite3 "$FX_DIR/state.db" 'PRAGMA integrity_check')" ok "database after the power cut"
assert_eq "$(sqlite3 "$FX_DIR/state.db" "SELECT server FROM line_state WHERE id = 'line1'")" 1 "stored server"

mark=$(wc -l <"$FX_DIR/sipuad.log")
sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not restart"
wait_for 5 "line1 resumed on the backup" sipuad_on line1 1 || fail "line1 after restart"
first=$(sipuad_sent "$mark" | grep -m1 '^REGISTER ')
assert_eq "$first" "REGISTER udp/$B:5060" "first REGISTER after the restart goes to the backup"
assert_eq "$(kam_contact_count b 9001)" 1 "one binding at the backup, not two"
assert_eq "$(kam_contacts b 9001 | cut -f3)" "$cid" "the same binding (Call-ID) refreshed"
hist=$(sipuactl_j history line1 20)
assert_eq "$(jq -r '.events[1].kind' <<<"$hist")" restart "a restart event before the new registration"
assert_eq "$(jq '[.events[] | select(.kind == "failover")] | length' <<<"$hist")" 1 "the failover before the power cut is remembered"

# It keeps probing the primary: bring it back, the line fails back.
kam_start a "$A" || fail "kamailio a again"
wait_for 8 "failback after the restart" sipuad_on line1 0 || fail "no failback"
wait_for 3 "backup binding released" kam_has_contacts b 9001 0 || fail "backup binding kept"
sipuad_stop 6 || fail "sipuad exit status $?"
assert_eq "$(sqlite3 "$FX_DIR/state.db" "SELECT server || ',' || registered FROM line_state WHERE id = 'line1'")" \
	"0,0" "stored: primary, un-registered at stop"
pass
