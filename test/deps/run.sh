#!/bin/sh
# deps/run.sh - the module rules that the compiler does not check (DESIGN
# "Modules"): no two daemon modules include each other, and the pure
# modules include only pure headers. (That the pure modules link without
# any library is proven by building build/unit-pure.)
# Ends with "deps: N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
exec python3 - <<'PY'
import glob, os, re
PURE = {"agent", "agent_status", "addrlist", "netaddr", "backoff", "srv", "verdict", "call", "sdp", "rtpport",
        "tlsdiag", "dns", "status", "config"}
# config.h is plain structs and enums; config.c (libconfig) is not pure,
# and no pure module calls into it (unit-pure would not link).
inc = {}
for f in sorted(glob.glob("daemon/*.[ch]")):
    m = os.path.basename(f).rsplit(".", 1)[0]
    for h in re.findall(r'#include "([a-z_]+)\.h"', open(f).read()):
        if h != m:
            inc.setdefault(m, set()).add(h)
passed = failed = 0
def check(ok, what):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + what)
    if ok: passed += 1
    else: failed += 1
cycles = sorted({tuple(sorted((a, b))) for a in inc for b in inc[a] if a in inc.get(b, ())})
check(not cycles, "no two modules include each other" + ("" if not cycles else ": %s" % cycles))
for p in sorted(PURE - {"config"}):
    bad = sorted(h for h in inc.get(p, ()) if h not in PURE)
    check(not bad, "%s includes only pure headers%s" % (p, "" if not bad else ": %s" % bad))
print("deps: %d passed, %d failed" % (passed, failed))
raise SystemExit(1 if failed else 0)
PY
