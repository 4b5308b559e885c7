#!/bin/sh
# cross.sh ARCH - cross-build sipuad for 32-bit ARM and test it under
# qemu-user (RULES H.4). ARCH: armhf (the only one so far).
#
#  1. A sysroot of Debian's ARCH packages (the libraries' -dev packages and
#     their dependencies), made by `mmdebstrap --variant=extract` from the
#     mirror of this machine's own apt sources, for its release. Kept in
#     $CROSS_DIR (default build-cross/ARCH) and made again only when the
#     package list, release or mirror change.
#  2. `make` with Debian's cross compiler (arm-linux-gnueabihf-gcc) at
#     -Werror, pkg-config pointed into the sysroot: build-cross/ARCH/build/.
#  3. The unit tests and `sipuad -n`/`-nv` on the example config under
#     qemu-arm; -nv must print what the native build prints.
# Ends with "cross: N passed, N failed". Needs root only when the sysroot
# must be made (mmdebstrap runs apt); scripts/deps.sh installs its tools.
# A firmware build system does step 2 with its own CC, PKG_CONFIG and
# sysroot; this script is the proof that it works with zero warnings.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
arch=${1:-}
case $arch in
armhf) triplet=arm-linux-gnueabihf qemu=qemu-arm ;;
*)
	echo "usage: $0 armhf" >&2
	exit 2
	;;
esac
MAKE=${MAKE:-make}
dir=${CROSS_DIR:-$top/build-cross/$arch}
sysroot=$dir/sysroot
build=$dir/build
PKGS="libc6-dev libsofia-sip-ua-dev libevent-dev libconfig-dev libsqlite3-dev libjson-c-dev libssl-dev"
passed=0
failed=0
result() { # NAME STATUS
	if [ "$2" -eq 0 ]; then
		echo "ok   $1"
		passed=$((passed + 1))
	else
		echo "FAIL $1"
		failed=$((failed + 1))
	fi
}
finish() {
	echo "cross: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit $?
}

# The release and the Debian mirror this machine installs from: deb822
# .sources first (Debian 12's default), then one-line sources.list.
. /etc/os-release
suite=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}
mirror=${CROSS_MIRROR:-}
if [ -z "$mirror" ]; then
	# One stanza at a time (its fields come in any order): the first
	# "Types: deb" one whose Suites hold the release.
	mirror=$(for f in /etc/apt/sources.list.d/*.sources; do [ -r "$f" ] && cat "$f" && echo; done |
		awk -v s="$suite" '
		function pick(  n, f, i) {
			if (types !~ /[ \t]deb([ \t]|$)/ || uri == "") return
			n = split(suites, f, /[ \t]+/)
			for (i = 2; i <= n; i++) if (f[i] == s) { print uri; found = 1; exit }
		}
		/^[Tt]ypes:/ { types = $0 }
		/^URIs:/ { uri = $2 }
		/^Suites:/ { suites = $0 }
		/^[ \t]*$/ { pick(); types = ""; uri = ""; suites = "" }
		END { if (!found) pick() }')
fi
if [ -z "$mirror" ]; then
	mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk -v s="$suite" '$1 == "deb" { l = $0; sub(/\[[^]]*\][ \t]*/, "", l); n = split(l, f, /[ \t]+/)
			for (i = 3; i <= n; i++) if (f[i] == s) { print f[2]; exit } }')
fi
[ -n "$mirror" ] || { echo "cross: no Debian mirror for $suite in /etc/apt/sources* (set CROSS_MIRROR)"; result sysroot 1; finish; }

for tool in mmdebstrap "$triplet-gcc" "$qemu" pkg-config; do
	command -v "$tool" >/dev/null 2>&1 || { echo "cross: no $tool (sh scripts/deps.sh installs it)"; result tools 1; finish; }
done

# 1. sysroot
stamp="$arch $suite $mirror $PKGS"
if [ -f "$sysroot/.stamp" ] && [ "$(cat "$sysroot/.stamp")" = "$stamp" ]; then
	echo "cross: sysroot $sysroot is up to date"
	result sysroot 0
else
	echo "cross: making the $arch sysroot from $mirror $suite (mmdebstrap --variant=extract)"
	rm -rf "$sysroot"
	mkdir -p "$dir"
	rc=0
	mmdebstrap --quiet --variant=extract --architectures="$arch" \
		--include="$(echo "$PKGS" | tr ' ' ,)" \
		"$suite" "$sysroot" "deb $mirror $suite main" </dev/null || rc=$?
	[ $rc -eq 0 ] && echo "$stamp" >"$sysroot/.stamp"
	result sysroot $rc
	[ $rc -eq 0 ] || finish
fi

# 2. build, warnings are errors (the Makefile's default)
libdirs=$sysroot/usr/lib/$triplet:$sysroot/lib/$triplet
# pkg-config sees only the sysroot's .pc files and prefixes their paths.
cat >"$dir/pkg-config" <<EOF
#!/bin/sh
PKG_CONFIG_SYSROOT_DIR=$sysroot PKG_CONFIG_LIBDIR=$sysroot/usr/lib/$triplet/pkgconfig:$sysroot/usr/share/pkgconfig exec pkg-config "\$@"
EOF
chmod +x "$dir/pkg-config"
rc=0
$MAKE -s BUILD="$build" CC="$triplet-gcc" PKG_CONFIG="$dir/pkg-config" WERROR=-Werror \
	CFLAGS="-O2 -g --sysroot=$sysroot" \
	LDFLAGS="--sysroot=$sysroot -Wl,-rpath-link=$libdirs" \
	all "$build/unit-pure" "$build/unit-tests" || rc=$?
if [ $rc -eq 0 ]; then
	file "$build/sipuad" 2>/dev/null | grep -q 'ARM' || { echo "cross: $build/sipuad is not an ARM program"; rc=1; }
fi
result "build with $triplet-gcc -Werror" $rc
[ $rc -eq 0 ] || finish

# 3. under qemu-user, with the sysroot as the target's root for the loader
qrun() { "$qemu" -L "$sysroot" "$@"; }
rc=0
qrun "$build/unit-pure" >"$dir/unit-pure.log" 2>&1 || rc=$?
grep -E '^FAIL|^unit:' "$dir/unit-pure.log" | sed 's/^unit:/pure unit tests under qemu:/'
result "pure unit tests under $qemu" $rc
rc=0
qrun "$build/unit-tests" >"$dir/unit.log" 2>&1 || rc=$?
grep -E '^FAIL|^unit:' "$dir/unit.log" | sed 's/^unit:/unit tests under qemu:/'
result "unit tests under $qemu" $rc

rc=0
qrun "$build/sipuad" -n -c config/sipuad.conf || rc=$?
result "sipuad -n under $qemu" $rc
rc=0
native=$top/build/sipuad
if [ -x "$native" ]; then
	qrun "$build/sipuad" -nv -c config/sipuad.conf >"$dir/nv.arm" 2>&1 || rc=$?
	"$native" -nv -c config/sipuad.conf >"$dir/nv.native" 2>&1 || rc=$?
	cmp -s "$dir/nv.arm" "$dir/nv.native" || { diff "$dir/nv.native" "$dir/nv.arm" | head -n 20; rc=1; }
	result "sipuad -nv under $qemu prints what the native build prints" $rc
fi
rc=0
qrun "$build/sipuad" -n -c test/config/bad/t1_low.conf >/dev/null 2>&1 && rc=1
result "sipuad -n under $qemu refuses a bad config" $rc
# RULES G.5 on ARM: the TLS files are read with the target's OpenSSL
rc=0
(cd test/config/good && qrun "$build/sipuad" -n -c tls.conf) || rc=$?
(cd test/config/bad && qrun "$build/sipuad" -n -c tls.conf 2>&1 | cmp -s - tls.err) || rc=1
result "sipuad -n under $qemu checks TLS files" $rc
finish
