#!/usr/bin/env bash
# RULES G.5: bad TLS files are refused when the config is checked
# (`sipuad -n`, exit 1) with file, line, key and the problem in words, and
# the daemon does not start with them: a missing CA file, a CA file with
# no certificate or with a broken block, an unreadable key (the daemon's user may not read it), a
# key that is not the certificate's, a key with a passphrase, a
# certificate file with no certificate. No key material is ever printed.
# (test/config/bad/tls*.conf cover what needs no real certificate.)
# fx-timeout: 60
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_tls.sh"
fx_init
tls_ca_init || fail "tls_ca_init"
W=$FX_DIR/w # world-readable: -n runs as nobody once
mkdir -p "$W"
chmod 0711 "$FX_DIR"
chmod 0755 "$W"
cp "$(tls_crt client)" "$W/client.crt"
cp "$(tls_key client)" "$W/client.key"
cp "$(tls_ca_file)" "$W/ca.crt"
cp "$(tls_crt wrongkey)" "$W/wrongkey.crt"
cp "$(tls_key wrongkey)" "$W/wrongkey.key"
openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:sekrit -in "$W/client.key" -out "$W/enc.key" 2>/dev/null ||
	fail "encrypting a key"
{
	cat "$W/ca.crt"
	printf -- '-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n'
} >"$W/badtail.crt"
chmod 0644 "$W"/*

# check TLS_BLOCK EXPECTED_LINE_REGEX [AS_USER]: -n fails with exactly one
# error matching the regex, and prints no key material
check() {
	local out rc=0
	{
		echo "sip = { transports = [ \"udp\", \"tls\" ];"
		echo "  tls = { $1 }; };"
		echo 'lines = ( { id = "a"; user = "1"; domain = "example.com";'
		echo '  servers = ( { host = "h.example.com"; transport = "tls"; } ); } );'
	} >"$W/t.conf"
	chmod 0644 "$W/t.conf"
	if [[ -n ${3:-} ]]; then
		out=$(setpriv --reuid="$3" --regid="$3" --clear-groups "$SIPUAD_BIN" -n -c "$W/t.conf" 2>&1) || rc=$?
	else
		out=$("$SIPUAD_BIN" -n -c "$W/t.conf" 2>&1) || rc=$?
	fi
	assert_eq "$rc" 1 "exit status of -n ($2)"
	assert_eq "$(grep -c . <<<"$out")" 1 "one error ($out)"
	assert_match "$out" "$2" "the error"
	! grep -q -- "-----BEGIN\|PRIVATE" <<<"$out" || fail "key material printed: $out"
	fx_log "$out"
}

check "ca_file = \"$W/missing.pem\";" \
	"^$W/t.conf:2: sip.tls.ca_file: cannot read $W/missing.pem: No such file or directory\$"
check "ca_file = \"$W/client.key\";" \
	"^$W/t.conf:2: sip.tls.ca_file: $W/client.key holds no PEM certificate\$"
# one good certificate, then a broken block: OpenSSL (and so Sofia-SIP's
# tport) refuses the whole file
check "ca_file = \"$W/badtail.crt\";" \
	"^$W/t.conf:2: sip.tls.ca_file: $W/badtail.crt is no usable CA file \\(.+\\)\$"
chmod 0600 "$W/client.key"
check "ca_file = \"$W/ca.crt\"; certificate = \"$W/client.crt\"; key = \"$W/client.key\";" \
	"^$W/t.conf:2: sip.tls.key: cannot read $W/client.key: Permission denied\$" 65534
chmod 0644 "$W/client.key"
check "ca_file = \"$W/ca.crt\"; certificate = \"$W/client.crt\"; key = \"$W/wrongkey.key\";" \
	"^$W/t.conf:2: sip.tls.key: $W/wrongkey.key does not match the certificate $W/client.crt\$"
check "ca_file = \"$W/ca.crt\"; certificate = \"$W/client.crt\"; key = \"$W/enc.key\";" \
	"^$W/t.conf:2: sip.tls.key: $W/enc.key is encrypted; sipuad needs a key without a passphrase\$"
check "ca_file = \"$W/ca.crt\"; certificate = \"$W/client.key\"; key = \"$W/client.key\";" \
	"^$W/t.conf:2: sip.tls.certificate: $W/client.key holds no PEM certificate\$"

# the good pair passes; with the bad one the daemon does not start
check_ok() { "$SIPUAD_BIN" -n -c "$W/t.conf"; }
sed -i "s|wrongkey.key|client.key|; s|enc.key|client.key|" "$W/t.conf"
sed -i "s|certificate = \"$W/client.key\"|certificate = \"$W/client.crt\"|" "$W/t.conf"
check_ok || fail "the good client pair is refused"
{
	sipuad_conf_tls 100 "" "certificate = \"$W/client.crt\"; key = \"$W/wrongkey.key\";"
	echo "lines = ();"
} >"$FX_DIR/sipuad.conf"
rc=0
timeout 10 "$SIPUAD_BIN" -f -c "$FX_DIR/sipuad.conf" >"$FX_DIR/start.out" 2>&1 || rc=$?
assert_eq "$rc" 1 "exit status of a start with a mismatched key"
grep -q "sip.tls.key: .*does not match" "$FX_DIR/start.out" || fail "start: $(cat "$FX_DIR/start.out")"
pass
