#!/bin/sh
# run.sh BUILD_DIR - tests of what ships on firmware (RULES H): the man
# pages (clean under `mandoc -T lint`, every key, command, option, signal,
# file and exit status), `make install` into temporary DESTDIRs (files,
# modes, paths, a config kept on reinstall), `systemd-analyze verify` on the
# installed unit, the OpenWrt procd script against a stub of procd's shell
# functions, and the init scripts' syntax under dash and BusyBox ash.
# The sysv script's life cycle runs in the integration suite
# (t_init_sysv), since it needs registrars.
# Needs root (files given to another user), mandoc, systemd-analyze, man,
# busybox. Ends with "ship: N passed, N failed".
set -u
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
case $1 in /*) build=$1 ;; *) build=$top/$1 ;; esac
MAKE=${MAKE:-make}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sipuad-ship.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 2' HUP INT TERM
passed=0
failed=0

# check NAME CMD...: one test; its output is shown only when it fails.
check() {
	name=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then
		echo "ok   $name"
		passed=$((passed + 1))
	else
		echo "FAIL $name"
		sed 's/^/    | /' "$tmp/out"
		failed=$((failed + 1))
	fi
}

die() { echo "$*" >&2; return 1; }

# ---------------------------------------------------------------- man pages

man_lint() {
	# Run beside the pages so their cross-references resolve to each other.
	out=$(cd man && mandoc -T lint sipuad.8 sipuactl.8 sipuad.conf.5 2>&1) || { echo "$out"; return 1; }
	[ -z "$out" ] || { echo "$out"; return 1; }
}

# Every key of daemon/config.c's tables is documented in sipuad.conf(5) and
# README's configuration table.
man_keys() {
	rc=0
	for k in $(sed -n 's/.*\.name = "\([a-z_0-9]*\)".*/\1/p' daemon/config.c | sort -u); do
		grep -Eq "^\\.(It Cm ([a-z_]+\\.)?$k( |\\.|\$)|Ss $k\$)" man/sipuad.conf.5 ||
			{ echo "sipuad.conf.5: no key '$k'"; rc=1; }
		grep '^| `' README.md | grep -Eq "[\`.]$k(\`|\\.|\\[)" ||
			{ echo "README.md: no key '$k'"; rc=1; }
	done
	return $rc
}

# Every command of the daemon's table is in sipuactl(8) and README.
man_commands() {
	rc=0
	for c in $(sed -n 's/^	X([A-Z_]*, \([a-z]*\), .*/\1/p' daemon/ctl_proto.h); do
		grep -q "^\\.It Cm $c\\b" man/sipuactl.8 || { echo "sipuactl.8: no command '$c'"; rc=1; }
		grep -q "^| \`$c" README.md || { echo "README.md: no command '$c'"; rc=1; }
	done
	[ -n "${c:-}" ] || { echo "no commands found in daemon/ctl_proto.h"; rc=1; }
	return $rc
}

# Every option of both programs' getopt strings, every signal sipuad
# handles, its files and both exit-status sections.
man_options() {
	rc=0
	opts=$(sed -n 's/.*getopt(argc, argv, "\([^"]*\)").*/\1/p' daemon/main.c | tr -d ':')
	[ -n "$opts" ] || { echo "no getopt string in daemon/main.c"; rc=1; }
	for o in $(echo "$opts" | sed 's/./& /g'); do
		grep -q "^\\.It Fl $o\\b" man/sipuad.8 || { echo "sipuad.8: no option -$o"; rc=1; }
	done
	cli=$(grep -l 'CTL_SOCKET_ENV' daemon/sipuactl.c sipuactl/*.c 2>/dev/null | head -n 1)
	copts=$(sed -n 's/.*getopt(argc, argv, "\([^"]*\)").*/\1/p' "$cli" | tr -d ':')
	[ -n "$copts" ] || { echo "no getopt string in the CLI's source"; rc=1; }
	for o in $(echo "$copts" | sed 's/./& /g'); do
		grep -q "^\\.It Fl $o\\b" man/sipuactl.8 || { echo "sipuactl.8: no option -$o"; rc=1; }
	done
	for s in $(sed -n 's/.*evsignal_new([^,]*, *\(SIG[A-Z]*\),.*/\1/p' daemon/main.c); do
		grep -q "Dv $s\\b" man/sipuad.8 || { echo "sipuad.8: no signal $s"; rc=1; }
	done
	for f in /etc/sipuad/sipuad.conf /var/run/sipuad/sipuad.sock /var/lib/sipuad/state.db; do
		grep -q "^\\.It Pa $f\$" man/sipuad.8 || { echo "sipuad.8: no file $f"; rc=1; }
	done
	grep -q '^\.Sh EXIT STATUS' man/sipuad.8 || { echo "sipuad.8: no EXIT STATUS"; rc=1; }
	[ "$(sed -n '/^\.Sh EXIT STATUS/,/^\.Sh/p' man/sipuactl.8 | grep -c '^\.It [012]$')" = 3 ] ||
		{ echo "sipuactl.8: exit statuses 0, 1, 2 not all listed"; rc=1; }
	return $rc
}

check "man: mandoc -T lint clean" man_lint
check "man: every config key in sipuad.conf.5 and README" man_keys
check "man: every control command in sipuactl.8 and README" man_commands
check "man: every option, signal, file and exit status" man_options

# ---------------------------------------------------------------- make install

# modes ROOT: "MODE path" of every file and link under ROOT, sorted.
modes() {
	(cd "$1" && find . -type f -o -type l | sort | while read -r f; do
		echo "$(stat -c %a "$f") ${f#.}"
	done)
}

install_into() { # DESTDIR INIT [MAKE ARGS...]
	d=$1 i=$2
	shift 2
	$MAKE -s -C "$top" install BUILD="$build" DESTDIR="$d" PREFIX=/usr INIT="$i" "$@"
}

common_files() {
	cat <<EOF
640 /etc/sipuad/sipuad.conf
755 /usr/bin/sipuactl
755 /usr/sbin/sipuad
644 /usr/share/doc/sipuad/sipuad.conf.example
644 /usr/share/man/man5/sipuad.conf.5
644 /usr/share/man/man8/sipuactl.8
644 /usr/share/man/man8/sipuad.8
EOF
}

install_files() { # INIT EXTRA-LINES
	d=$tmp/inst-$1
	install_into "$d" "$1" || return 1
	{ common_files; [ -z "$2" ] || printf '%s\n' "$2"; } | sort -k2 >"$tmp/want"
	modes "$d" | sort -k2 >"$tmp/got"
	diff -u "$tmp/want" "$tmp/got" || return 1
	cmp "$d/usr/sbin/sipuad" "$build/sipuad" || return 1
	"$d/usr/sbin/sipuad" -n -c "$d/etc/sipuad/sipuad.conf" || return 1
}
check "install INIT=none: programs, man pages, config 0640, example" install_files none ""
check "install INIT=sysv: + init.d script and /etc/default" install_files sysv "755 /etc/init.d/sipuad
644 /etc/default/sipuad"
check "install INIT=procd: + init.d script" install_files procd "755 /etc/init.d/sipuad"
check "install INIT=systemd: + unit and sysusers.d" install_files systemd "644 /usr/lib/systemd/system/sipuad.service
644 /usr/lib/sysusers.d/sipuad.conf"

install_keeps() {
	d=$tmp/inst-sysv
	echo '# mine' >>"$d/etc/sipuad/sipuad.conf"
	chmod 0600 "$d/etc/sipuad/sipuad.conf"
	echo 'SIPUAD_USER=me' >"$d/etc/default/sipuad"
	install_into "$d" sysv || return 1
	tail -n 1 "$d/etc/sipuad/sipuad.conf" | grep -qx '# mine' || die "config overwritten"
	[ "$(stat -c %a "$d/etc/sipuad/sipuad.conf")" = 600 ] || die "config mode changed"
	grep -qx 'SIPUAD_USER=me' "$d/etc/default/sipuad" || die "/etc/default/sipuad overwritten"
	cmp "$d/usr/share/doc/sipuad/sipuad.conf.example" config/sipuad.conf || die "example not refreshed"
}
check "install again: existing config and defaults kept" install_keeps

install_paths() {
	grep -q '^DAEMON=/usr/sbin/sipuad$' "$tmp/inst-sysv/etc/init.d/sipuad" || die "sysv DAEMON"
	grep -q '"/etc/sipuad/state/state.db"' "$tmp/inst-procd/etc/sipuad/sipuad.conf" ||
		die "procd: database not on flash"
	grep -q '"/var/lib/sipuad/state.db"' "$tmp/inst-sysv/etc/sipuad/sipuad.conf" || die "sysv: database"
	d=$tmp/inst-local
	$MAKE -s -C "$top" install BUILD="$build" DESTDIR="$d" PREFIX=/usr/local SYSCONFDIR=/etc/opt INIT=sysv ||
		return 1
	s=$d/etc/opt/init.d/sipuad
	grep -q '^DAEMON=/usr/local/sbin/sipuad$' "$s" || die "PREFIX not in DAEMON"
	grep -q '^SIPUACTL=/usr/local/bin/sipuactl$' "$s" || die "PREFIX not in SIPUACTL"
	grep -q '^CONFIG=/etc/opt/sipuad/sipuad.conf$' "$s" || die "SYSCONFDIR not in CONFIG"
	grep -q '/etc/opt/default/sipuad' "$s" || die "SYSCONFDIR not in the defaults file"
	[ -x "$d/usr/local/sbin/sipuad" ] && [ -f "$d/etc/opt/sipuad/sipuad.conf" ] || die "files"
	if $MAKE -s -C "$top" install BUILD="$build" DESTDIR="$tmp/bad" INIT=upstart 2>/dev/null; then
		die "INIT=upstart accepted"
	fi
}
check "install: PREFIX/SYSCONFDIR in the scripts, database on flash for procd, bad INIT refused" install_paths

# ---------------------------------------------------------------- systemd

unit_verify() {
	# Installed under a prefix of its own, so every path the unit names exists.
	p=$tmp/sd
	$MAKE -s -C "$top" install BUILD="$build" PREFIX="$p" SYSCONFDIR="$p/etc" INIT=systemd || return 1
	u=$p/lib/systemd/system/sipuad.service
	grep -q "^ExecStart=$p/sbin/sipuad -f -c $p/etc/sipuad/sipuad.conf\$" "$u" || die "ExecStart paths"
	out=$(MANPATH=$p/share/man systemd-analyze verify "$u" 2>&1)
	rc=$?
	echo "$out"
	[ $rc -eq 0 ] && ! echo "$out" | grep -q 'sipuad'
}
check "systemd: systemd-analyze verify on the installed unit (man pages found)" unit_verify

unit_settings() {
	u=init/sipuad.service
	for want in 'Type=notify' 'DynamicUser=yes' 'User=sipuad' 'RuntimeDirectory=sipuad' \
		'StateDirectory=sipuad' 'ProtectSystem=strict' 'ExecReload=/bin/kill -HUP $MAINPID' \
		'CapabilityBoundingSet=' 'NoNewPrivileges=yes'; do
		grep -qxF "$want" "$u" || die "no '$want'"
	done
	t=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)$/\1/p' "$u")
	[ "${t:-0}" -gt 5 ] || die "TimeoutStopSec ($t) not above sipuad's 5 s stop bound"
	# The unit's paths are the defaults the daemon and sipuactl use.
	grep -q 'socket = "/var/run/sipuad/sipuad.sock"' config/sipuad.conf || die "socket not in RuntimeDirectory"
	grep -q 'database = "/var/lib/sipuad/state.db"' config/sipuad.conf || die "database not in StateDirectory"
}
check "systemd: Type=notify, user, directories, hardening, stop timeout" unit_settings

# ---------------------------------------------------------------- procd

# A copy of the procd script pointing at this build and at $tmp/p.
P=$tmp/p
procd_setup() {
	mkdir -p "$P"
	sed -e "s|^PROG=.*|PROG=$build/sipuad|" -e "s|^CONF=.*|CONF=$P/sipuad.conf|" \
		-e "s|^RUN_DIR=.*|RUN_DIR=$P/run|" -e "s|^RUN_USER=.*|RUN_USER=nobody|" \
		init/sipuad.procd >"$P/sipuad"
	cat >"$P/sipuad.conf" <<EOF
control = { socket = "$P/sock/sipuad.sock"; };
storage = { database = "$P/flash/state/state.db"; };
lines = ( { id = "l1"; user = "1"; domain = "d.test"; servers = ( { host = "127.0.0.1"; } ); } );
EOF
	chmod 0640 "$P/sipuad.conf"
}
procd_sh() { # ACTION: the script under BusyBox's ash, as on OpenWrt
	PROCD_LOG=$P/log busybox sh test/ship/procd-stub.sh "$P/sipuad" "$1"
}
has() { grep -qxF "$1" "$P/log" || die "procd log has no '$1'"; }

procd_start() {
	procd_setup
	: >"$P/log"
	STUB_USERS=nobody procd_sh start || die "start failed"
	cat "$P/log"
	has "open_service|sipuad|$P/sipuad"
	has "open_instance|sipuad"
	has "set_param|command|$build/sipuad|-f|-c|$P/sipuad.conf"
	has "set_param|file|$P/sipuad.conf"
	has "set_param|reload_signal|HUP"
	has "set_param|respawn|3600|5|5"
	has "set_param|stdout|1"
	has "set_param|stderr|1"
	has "set_param|user|nobody"
	has "close_instance"
	t=$(sed -n 's/^set_param|term_timeout|\([0-9]*\)$/\1/p' "$P/log")
	[ "${t:-0}" -gt 5 ] || die "term_timeout ($t) not above sipuad's 5 s stop bound"
	for d in run sock flash/state; do
		[ "$(stat -c %U "$P/$d")" = nobody ] || die "$P/$d not made for the user"
	done
	[ "$(stat -c %G "$P/sipuad.conf")" = "$(id -gn nobody)" ] || die "config not given to the user's group"
	# The command procd would run checks the same file.
	"$build/sipuad" -n -c "$P/sipuad.conf" || die "config"
}
check "procd: start_service sets command, file, reload_signal, respawn, logd, user, term_timeout" procd_start

procd_reload() {
	: >"$P/log"
	procd_sh reload || die "reload failed"
	has "send_signal|sipuad|sipuad|HUP"
}
check "procd: reload sends SIGHUP" procd_reload

procd_broken() {
	echo 'bogus = 1;' >>"$P/sipuad.conf"
	: >"$P/log"
	if STUB_USERS=nobody procd_sh start; then die "start with a broken config succeeded"; fi
	! grep -q '^open_instance' "$P/log" || die "an instance was opened for a broken config"
	if procd_sh reload; then die "reload with a broken config succeeded"; fi
	! grep -q '^send_signal' "$P/log" || die "SIGHUP sent for a broken config"
	sed -i '$d' "$P/sipuad.conf"
}
check "procd: a broken config fails start and reload, nothing sent to procd" procd_broken

procd_nouser() {
	: >"$P/log"
	STUB_USERS='' procd_sh start || die "start failed"
	cat "$P/log"
	! grep -q '^set_param|user|' "$P/log" || die "user set although it does not exist"
	grep -q "^logger|.*no user 'nobody'" "$P/log" || die "no warning logged"
}
check "procd: without its user, root and a warning" procd_nouser

# ---------------------------------------------------------------- syntax

syntax() {
	for s in init/sipuad.sysv init/sipuad.procd test/ship/procd-stub.sh; do
		dash -n "$s" || die "$s: dash"
		busybox sh -n "$s" || die "$s: busybox ash"
	done
}
check "init scripts parse under dash and BusyBox ash" syntax

echo "ship: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
