#!/usr/bin/env bash
# Storage trouble never takes a line down (RULES D): a missing directory is
# created; a corrupt database is moved aside (not deleted) and a new one
# made; a database that cannot be opened at all is logged and the daemon
# serves its lines from memory.
source "$(dirname "$0")/lib.sh"
fx_init
kam_start a "$(fx_ip 1)" || fail "kamailio a"
A=$(fx_ip 1)
conf() { # DATABASE
	{
		sipuad_conf_common
		cat <<EOF
lines = ( { id = "line1"; user = "9301"; domain = "sipuad.test"; password = "s3cr3t-pw";
            servers = ( { host = "$A"; expires = 60; } ); } );
EOF
	} | sed "s|database = \"[^\"]*\"|database = \"$1\"|" >"$FX_DIR/sipuad.conf"
}
up() {
	sipuad_start "$FX_DIR/sipuad.conf" || fail "sipuad did not start ($1)"
	wait_for 5 "line1 registered ($1)" sipuad_line_is line1 .state registered || fail "line1 ($1)"
	assert_eq "$(sipuad_line line1 .registered)" true "line1 registered ($1)"
}

# 1. A directory that does not exist yet.
DB=$FX_DIR/not/yet/there/state.db
conf "$DB"
up "missing directory"
sipuad_stop 6 || fail "exit status $?"
assert_eq "$(sqlite3 "$DB" 'PRAGMA integrity_check')" ok "database created in the new directory"

# 2. A corrupt file: moved aside, kept, replaced.
head -c 8192 /dev/urandom >"$DB"
rm -f "$DB-wal" "$DB-shm"
cp "$DB" "$FX_DIR/garbage"
up "corrupt database"
grep -q "is corrupt; moved aside" "$FX_DIR/sipuad.log" || fail "no log line about the corrupt file"
aside=$(ls "$DB".corrupt-* 2>/dev/null | grep -v -- '-wal$\|-shm$' | head -1)
[[ -n $aside ]] || fail "corrupt file not kept: $(ls "$(dirname "$DB")")"
cmp -s "$aside" "$FX_DIR/garbage" || fail "the file kept aside is not the corrupt one"
sipuad_stop 6 || fail "exit status $?"
assert_eq "$(sqlite3 "$DB" 'PRAGMA integrity_check')" ok "a fresh database replaced it"

# 3. A database that cannot be opened at all (procfs takes no files): the
#    daemon says so and runs from memory; history still works from memory.
conf /proc/sipuad-cannot-be-here/state.db
up "unusable database"
grep -q "running from memory" "$FX_DIR/sipuad.log" || fail "no log line about running from memory"
assert_eq "$(sipuactl_j history line1 | jq -r '.events[0].kind')" registered "history from memory"
sipuad_stop 6 || fail "exit status $?"
pass
