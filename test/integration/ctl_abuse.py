#!/usr/bin/env python3
"""ctl_abuse.py SOCKET - hostile and careless clients of the control socket.

Each check prints "ok NAME" or "FAIL NAME: why"; exit status 1 if any failed.
Every socket operation has a timeout; the whole run is bounded by the caller.
"""
import json
import selectors
import socket
import sys
import time

SOCK = sys.argv[1]
TIMEOUT = 5.0
failed = 0


def check(name, cond, why=""):
    global failed
    if cond:
        print(f"ok {name}")
    else:
        failed += 1
        print(f"FAIL {name}: {why}")


def conn():
    deadline = time.time() + TIMEOUT
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(TIMEOUT)
        try:
            s.connect(SOCK)
            return s
        except BlockingIOError:  # the listen backlog is full: wait our turn
            s.close()
            if time.time() > deadline:
                raise
            time.sleep(0.01)


def read_line(s, limit=1 << 20):
    buf = b""
    while b"\n" not in buf and len(buf) < limit:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf.split(b"\n", 1)[0] if b"\n" in buf else None


def ask(s, req):
    s.sendall(req)
    line = read_line(s)
    return json.loads(line) if line is not None else None


def is_error(r, word):
    return r is not None and r.get("ok") is False and word in r.get("error", "")


# Garbage of every kind gets an error reply, and the same connection goes on.
s = conn()
r = ask(s, b"\x01\x02garbage\xff\n")
check("garbage bytes", is_error(r, "control or non-ASCII"), r)
r = ask(s, b"status\x00line1\n")
check("NUL inside a request", is_error(r, "NUL"), r)
r = ask(s, b"frobnicate the widget\n")
check("unknown command", is_error(r, "unknown command"), r)
r = ask(s, b"\n")
check("empty line", is_error(r, "empty"), r)
r = ask(s, b"status no-such-line\n")
check("unknown line", is_error(r, "no line"), r)
r = ask(s, b"history\n")
check("missing argument", is_error(r, "usage"), r)
r = ask(s, b"version\r\n")
check("CRLF is accepted", r is not None and r.get("ok") is True, r)
r = ask(s, b"status\n")
check("same connection still served", r is not None and r.get("ok") is True, r)
s.close()

# Many requests in one write: one reply each, in order.
s = conn()
s.sendall(b"version\n" * 200)
got = b""
deadline = time.time() + TIMEOUT
while got.count(b"\n") < 200 and time.time() < deadline:
    chunk = s.recv(65536)
    if not chunk:
        break
    got += chunk
lines = got.split(b"\n")[:-1]
check("200 pipelined requests", len(lines) == 200 and all(json.loads(x)["ok"] for x in lines),
      f"{len(lines)} replies")
s.close()

# A request split across writes is assembled.
s = conn()
s.sendall(b"ver")
time.sleep(0.05)  # let the daemon read the first half by itself
s.sendall(b"sion\n")
r = read_line(s)
check("half lines are assembled", r is not None and json.loads(r)["ok"] is True, r)
s.close()

# Overlong: with or without a newline, an error, then the connection closes.
for name, payload in (("overlong line", b"a" * 5000 + b"\n"), ("overlong, no newline", b"a" * 9000)):
    s = conn()
    try:
        s.sendall(payload)
    except OSError:
        pass
    r = read_line(s)
    rj = json.loads(r) if r else None
    try:
        closed = s.recv(10) == b""
    except ConnectionResetError:  # closed with our excess unread: RST
        closed = True
    check(name, is_error(rj, "longer than") and closed, f"{r!r} closed={closed}")
    s.close()

# Half a line, then gone; and gone before reading a big reply.
for _ in range(20):
    s = conn()
    s.sendall(b"stat")
    s.close()
for _ in range(50):
    s = conn()
    s.sendall(b"status\nstatus\nstatus\n")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()
check("careless clients", True)

# Hundreds of clients at once: every one is answered (some wait their turn).
N = 300
sel = selectors.DefaultSelector()
pending = {}
answered = 0
deadline = time.time() + 20
socks = []
for i in range(N):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.setblocking(False)
    socks.append(c)
todo = list(socks)
while (todo or pending) and time.time() < deadline:
    still = []
    for c in todo:
        try:
            c.connect(SOCK)
        except (BlockingIOError, InterruptedError):
            still.append(c)  # backlog full: try again shortly
            continue
        except OSError as e:
            if e.errno in (11, 115):
                still.append(c)
                continue
            raise
        c.send(b"version\n")
        pending[c] = b""
        sel.register(c, selectors.EVENT_READ)
    todo = still
    for key, _ in sel.select(timeout=0.05):
        c = key.fileobj
        data = c.recv(4096)
        pending[c] += data
        if b"\n" in pending[c] or not data:
            if b"\n" in pending[c] and json.loads(pending[c].split(b"\n")[0])["ok"]:
                answered += 1
            sel.unregister(c)
            del pending[c]
            c.close()
for c in socks:
    c.close()
check(f"{N} clients at once", answered == N, f"{answered} answered")

# Clients that ask and never read: each is dropped past 1 MiB of unread
# replies, and its slot comes back. More of them than the daemon has slots
# (64): if a slot leaked, the client after them would never be served.
hogs = []
for i in range(70):
    h = conn()
    try:
        h.sendall(b"status\n" * 10000)  # ~3 MB of replies; we read none
    except OSError:
        pass  # already dropped and closed: fine
    hogs.append(h)
s = conn()
s.settimeout(30)  # the daemon first works through the hogs' requests
r = ask(s, b"version\n")
check("70 clients that never read do not use up the slots", r is not None and r.get("ok") is True, r)
s.close()
for h in hogs:
    h.close()

# After all that, the daemon still serves.
s = conn()
r = ask(s, b"status\n")
check("still serving", r is not None and r.get("ok") is True and len(r.get("lines", [])) >= 1, r)
s.close()
sys.exit(1 if failed else 0)
