#!/usr/bin/env python3
"""bench_imap_load.py -- the IMAP client load behind scripts/bench-imap.

  bench_imap_load.py run  --port P --password PW --corpus MBOX [--clients 10 --secs 20]
  bench_imap_load.py idle --port P --password PW --pids-cmd CMD --bench-dir DIR [--idle 200 --warmup 50]
  bench_imap_load.py argon2-users FILE PASSWORD N M_KIB T    (Dovecot passwd-file, see bench-imap)

"run", against a server on 127.0.0.1 with empty INBOXes for testuser1..N (N = --clients):
  1. (not timed) APPENDs every message of the corpus to each of those INBOXes;
  2. (timed) N clients, one per user, each looping LOGIN, SELECT INBOX, FETCH 20 headers +
     FLAGS, FETCH one full body, STORE +FLAGS \\Seen on 3 messages, SEARCH UNSEEN, SEARCH
     SUBJECT, APPEND, UID STORE +FLAGS \\Deleted on it, EXPUNGE, LOGOUT until --secs have
     passed; prints "imap-bench: clients=N secs=S commands=C commands_per_sec=R loops=L".
"idle" opens idle connections (LOGIN + SELECT INBOX) and reads the server's PSS and RSS, summed
over the process trees of --pids-cmd with procmem.py's readers; prints
"idle_conns=K idle_conn_kib=P idle_conn_rss_kib=R" (see idle() for how).
Every tagged response must be OK and the untagged ones must add up (20 FETCHes, one EXPUNGE
...); anything else aborts with the command and the reply, exit status 1.
"""
import argparse
import asyncio
import importlib.util
import os
import random
import re
import statistics
import subprocess
import sys
import time

HOST = "127.0.0.1"
LITERAL = re.compile(rb"\{(\d+)\}\r\n$")
SUBJECT_WORDS = ["report", "meeting", "budget", "release", "schedule", "review", "status"]
HEADER_FETCH = "(FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE)])"
STEPS = 8  # the measured idle connections are opened in this many steps


class BenchError(Exception):
    pass


class Deadline(Exception):
    pass


def log(msg):
    print("[bench-imap] " + msg, file=sys.stderr, flush=True)


def read_mbox(path):
    """Messages of an mboxrd file (gen-mbox.py), unescaped, with CRLF line endings."""
    msgs, cur = [], None
    with open(path, "rb") as f:
        for line in f.read().split(b"\n"):
            if line.startswith(b"From "):
                cur = []
                msgs.append(cur)
                continue
            if re.match(rb">+From ", line):
                line = line[1:]
            cur.append(line)
    out = []
    for m in msgs:
        while m and m[-1] == b"":
            m.pop()
        out.append(b"\r\n".join(m) + b"\r\n")
    return out


class Imap:
    """A minimal IMAP client: one command at a time, literals in both directions."""

    def __init__(self, label, timeout):
        self.label, self.timeout, self.n = label, timeout, 0
        self.deadline = None  # commands may not start after this (time.monotonic())
        self.done = 0         # tagged OKs while counting
        self.last = 0.0       # when the last counted one came

    async def open(self, port):
        self.r, self.w = await self.wait(asyncio.open_connection(HOST, port, limit=1 << 20))
        greeting = await self.line()
        if not greeting.startswith(b"* OK"):
            raise BenchError("%s: greeting %r" % (self.label, greeting))
        return self

    def close(self):
        self.w.close()

    async def wait(self, what):
        try:
            return await asyncio.wait_for(what, self.timeout)
        except asyncio.TimeoutError:
            raise BenchError("%s: no reply within %ss" % (self.label, self.timeout)) from None

    async def line(self):
        ln = await self.wait(self.r.readline())
        if not ln.endswith(b"\n"):
            raise BenchError("%s: connection closed by the server" % self.label)
        return ln

    async def response(self):
        """Reads one response with its literals; returns its first line."""
        first = ln = await self.line()
        while (m := LITERAL.search(ln)):
            await self.wait(self.r.readexactly(int(m.group(1))))
            ln = await self.line()
        return first

    async def cmd(self, text, literal=None, count=True):
        """Sends one command; returns (untagged first lines, tagged line). Not OK: BenchError."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise Deadline()
        self.n += 1
        tag = b"a%d" % self.n
        what = "%s %s%s" % (tag.decode(), text, " {%d}" % len(literal) if literal else "")
        self.w.write(what.encode() + b"\r\n")
        untagged = []
        if literal is not None:
            while True:
                ln = await self.response()
                if ln.startswith(b"+"):
                    break
                if ln.startswith(tag + b" "):
                    raise BenchError("%s: %s -> %r" % (self.label, what, ln))
                untagged.append(ln)
            self.w.write(literal + b"\r\n")
        while True:
            ln = await self.response()
            if ln.startswith(tag + b" "):
                break
            untagged.append(ln)
        if not ln[len(tag) + 1:].upper().startswith(b"OK"):
            raise BenchError("%s: %s -> %r" % (self.label, what, ln.rstrip()))
        if count:
            self.done += 1
            self.last = time.monotonic()
        return untagged, ln

    async def login(self, user, password, count=True):
        await self.cmd('LOGIN "%s" "%s"' % (user, password), count=count)

    async def select(self, count=True):
        untagged, _ = await self.cmd("SELECT INBOX", count=count)
        for ln in untagged:
            m = re.match(rb"\* (\d+) EXISTS", ln)
            if m:
                return int(m.group(1))
        raise BenchError("%s: SELECT INBOX without EXISTS" % self.label)


def fetches(untagged):
    return sum(1 for ln in untagged if re.match(rb"\* \d+ FETCH ", ln))


def check(cond, label, what, untagged):
    if not cond:
        raise BenchError("%s: %s; untagged replies: %r" % (label, what, untagged[:5]))


async def one_loop(c, user, a, rnd, corpus):
    """One client session: 11 commands."""
    await c.open(a.port)
    await c.login(user, a.password)
    n = await c.select()
    check(n > 0, c.label, "empty INBOX", [])
    lo = rnd.randint(1, max(1, n - 19))
    hi = min(n, lo + 19)
    u, _ = await c.cmd("FETCH %d:%d %s" % (lo, hi, HEADER_FETCH))
    check(fetches(u) == hi - lo + 1, c.label, "FETCH %d:%d: %d FETCH replies" % (lo, hi, fetches(u)), u)
    m = rnd.randint(1, n)
    u, _ = await c.cmd("FETCH %d BODY.PEEK[]" % m)
    check(fetches(u) == 1, c.label, "FETCH %d BODY.PEEK[]: %d FETCH replies" % (m, fetches(u)), u)
    seqs = ",".join(str(rnd.randint(1, n)) for _ in range(3))
    await c.cmd("STORE %s +FLAGS (\\Seen)" % seqs)
    u, _ = await c.cmd("SEARCH UNSEEN")
    check(any(ln.startswith(b"* SEARCH") for ln in u), c.label, "SEARCH UNSEEN: no * SEARCH", u)
    word = rnd.choice(a.words)
    u, _ = await c.cmd('SEARCH SUBJECT "%s"' % word)
    hits = [ln for ln in u if ln.startswith(b"* SEARCH")]
    check(hits and len(hits[0].split()) > 2, c.label, 'SEARCH SUBJECT "%s": no match' % word, u)
    _, ok = await c.cmd("APPEND INBOX", literal=rnd.choice(corpus))
    uid = re.search(rb"\[APPENDUID \d+ (\d+)\]", ok)
    check(uid, c.label, "APPEND: no APPENDUID in %r" % ok, [])
    await c.cmd("UID STORE %s +FLAGS.SILENT (\\Deleted)" % uid.group(1).decode())
    u, _ = await c.cmd("EXPUNGE")
    gone = sum(1 for ln in u if re.match(rb"\* \d+ EXPUNGE", ln))
    check(gone == 1, c.label, "EXPUNGE after APPEND + \\Deleted removed %d messages" % gone, u)
    await c.cmd("LOGOUT")
    c.close()


async def client(i, a, corpus, deadline, stats):
    user = a.user_fmt % (i + 1)
    rnd = random.Random(i)
    c = Imap("%s client %d (%s)" % (a.label, i + 1, user), a.timeout)
    c.deadline = deadline
    loops = 0
    try:
        while True:
            await one_loop(c, user, a, rnd, corpus)
            loops += 1
    except Deadline:
        c.close()
    stats.append((c.done, c.last, loops))


async def load_user(i, a, corpus):
    c = await Imap("%s loader %d" % (a.label, i + 1), a.timeout).open(a.port)
    await c.login(a.user_fmt % (i + 1), a.password)
    for msg in corpus:
        await c.cmd("APPEND INBOX", literal=msg)
    n = await c.select()
    check(n == len(corpus), c.label, "INBOX holds %d messages, %d appended" % (n, len(corpus)), [])
    await c.cmd("LOGOUT")
    c.close()


def memory(a):
    """(PSS, RSS) in KiB summed over the process trees of --pids-cmd."""
    spec = importlib.util.spec_from_file_location("procmem", os.path.join(a.bench_dir, "procmem.py"))
    pm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pm)
    out = subprocess.run(a.pids_cmd, shell=True, capture_output=True, text=True).stdout
    roots = [int(x) for x in out.split() if x.isdigit()]
    if not roots:
        raise BenchError("%s: no server pids from %r" % (a.label, a.pids_cmd))
    procs = pm.tree(roots)
    return sum(pm.pss_of(p) or 0 for p in procs), sum(pm.rss_of(p) or 0 for p in procs)


async def idle(a):
    """Memory per idle connection, on a server started afresh on the loaded mailboxes.

    Connections (LOGIN + SELECT INBOX, one after the other, spread over the test users) are
    opened --warmup first, then --idle more in STEPS equal steps, with the server's memory
    read after each. Per connection: the median step's growth over its size. The median, not
    the total, because growth comes in 19 MiB jumps when a login's argon2 buffer lands in a
    malloc arena that had none (Roost; the warm-up takes most of them): memory the server
    does take, but not for each connection."""
    conns = []

    async def settled():
        await asyncio.sleep(2)
        return memory(a)
    try:
        marks = [await settled()]
        sizes = [a.warmup] + [a.idle // STEPS + (k < a.idle % STEPS) for k in range(STEPS)]
        for size in sizes:
            for _ in range(size):
                j = len(conns)
                c = await Imap("%s idle %d" % (a.label, j + 1), a.timeout).open(a.port)
                conns.append(c)
                await c.login(a.user_fmt % (j % a.clients + 1), a.password, count=False)
                await c.select(count=False)
            marks.append(await settled())
        # Still all there? A server that dropped some would look cheap.
        for c in conns:
            await c.cmd("NOOP", count=False)
    finally:
        for c in conns:
            c.close()
    log("%s: PSS KiB %s after %s idle connections" % (
        a.label, " ".join(str(m[0]) for m in marks),
        " ".join(str(sum(sizes[:k])) for k in range(len(marks)))))
    per = [[(marks[k + 1][i] - marks[k][i]) / sizes[k] for k in range(1, len(sizes))] for i in (0, 1)]
    pss, rss = (statistics.median(x) for x in per)
    print("idle_conns=%d idle_conn_kib=%.0f idle_conn_rss_kib=%.0f" % (a.idle, pss, rss), flush=True)


async def run(a):
    corpus = read_mbox(a.corpus)
    # SEARCH SUBJECT must find something: only words some Subject: holds.
    headers = b"".join(m.split(b"\r\n\r\n", 1)[0] + b"\r\n" for m in corpus)
    subjects = b"\n".join(re.findall(rb"(?im)^Subject: (.*)$", headers)).lower()
    a.words = [w for w in SUBJECT_WORDS if w.encode() in subjects]
    if not a.words:
        raise BenchError("no Subject: in %s holds any of %s" % (a.corpus, SUBJECT_WORDS))
    t = time.monotonic()
    await asyncio.gather(*(load_user(i, a, corpus) for i in range(a.clients)))
    log("%s: appended %d messages to each of %d INBOXes in %.1fs (not timed)"
        % (a.label, len(corpus), a.clients, time.monotonic() - t))
    stats = []
    start = time.monotonic()
    await asyncio.gather(*(client(i, a, corpus, start + a.secs, stats) for i in range(a.clients)))
    commands = sum(s[0] for s in stats)
    elapsed = max(s[1] for s in stats) - start
    loops = sum(s[2] for s in stats)
    if commands == 0 or elapsed <= 0:
        raise BenchError("%s: no command completed in %ss" % (a.label, a.secs))
    print("imap-bench: clients=%d secs=%.1f commands=%d commands_per_sec=%.1f loops=%d"
          % (a.clients, elapsed, commands, commands / elapsed, loops), flush=True)


def argon2_users(path, password, n, m_kib, t):
    """Rewrites testuser1..N in a Dovecot passwd-file with {ARGON2ID} hashes made by libsodium
    (Dovecot's own library for that scheme) with the given cost, one salt per user."""
    import ctypes
    import ctypes.util
    na = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
    if na.sodium_init() < 0:
        raise BenchError("sodium_init failed")
    pw = password.encode()

    def hash_one():
        out = ctypes.create_string_buffer(128)
        if na.crypto_pwhash_str_alg(out, pw, ctypes.c_ulonglong(len(pw)), ctypes.c_ulonglong(t),
                                    ctypes.c_size_t(m_kib * 1024), na.crypto_pwhash_alg_argon2id13()):
            raise BenchError("crypto_pwhash_str_alg failed")
        return out.value.decode()
    want = {"testuser%d" % i for i in range(1, n + 1)}
    with open(path) as f:
        lines = f.read().splitlines()
    done = 0
    for k, ln in enumerate(lines):
        fields = ln.split(":")
        if fields[0] in want:
            fields[1] = "{ARGON2ID}" + hash_one()
            lines[k] = ":".join(fields)
            done += 1
    if done != n:
        raise BenchError("%s: found %d of testuser1..%d" % (path, done, n))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "argon2-users":
        path, password, n, m_kib, t = sys.argv[2:7]
        argon2_users(path, password, int(n), int(m_kib), int(t))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["run", "idle"])
    ap.add_argument("--label", default="server")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user-fmt", default="testuser%d@example.test")
    ap.add_argument("--password", required=True)
    ap.add_argument("--corpus", help="mbox to APPEND and to draw messages from (run)")
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--secs", type=float, default=20)
    ap.add_argument("--idle", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=50, help="idle connections before measuring")
    ap.add_argument("--timeout", type=float, default=60, help="seconds any one reply may take")
    ap.add_argument("--pids-cmd", help="prints the server's root pids (idle)")
    ap.add_argument("--bench-dir", help="where procmem.py is (idle)")
    a = ap.parse_args()
    if a.mode == "run" and not a.corpus:
        ap.error("run needs --corpus")
    if a.mode == "idle" and not (a.pids_cmd and a.bench_dir and a.idle >= STEPS):
        ap.error("idle needs --pids-cmd, --bench-dir and --idle %d or more" % STEPS)
    try:
        asyncio.run(run(a) if a.mode == "run" else idle(a))
    except (BenchError, OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
        log("error: %s" % (e or type(e).__name__))
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
