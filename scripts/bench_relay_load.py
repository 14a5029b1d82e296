#!/usr/bin/env python3
"""bench_relay_load.py -- the load and the clocks behind scripts/bench-relay.

  bench_relay_load.py fill --port P [--user U --password PW] [--msgs 5000 --threads 10 --size 5000]
  bench_relay_load.py dns-wait --server 127.0.53.250 --name d0.bench.test [--timeout 10]
  bench_relay_load.py roost-wait-deferred --db DATA/roost.db --msgs N [--timeout 300]
  bench_relay_load.py drain (--db DATA/roost.db | --postfix-queue DIR/queue) --msgs N -- CMD...

"fill" submits --msgs messages of about --size bytes to 127.0.0.1:P from --threads clients, each
keeping its connection for many messages; message i goes to one recipient u<i>@d<i % 10>.bench.test.
With --user it logs in with AUTH PLAIN first (Roost's submission port); without, it relies on
the server relaying for 127.0.0.0/8 (the Postfix peer). Not timed by bench-relay.

"drain" is the measurement: it takes t0, runs CMD (what releases the queue: `roost queue retry
--all`, or postsuper -H + postqueue -f), then polls the queue every 50 ms until it is empty and
prints "drain: msgs=N secs=S outbound_msgs_per_sec=R first_done_secs=F" (F: until the first
message left the queue; for Roost it includes the queue runner's poll of up to 2 s, as admin
commands from another process do not wake it). Exit 1 when the queue stops shrinking for
--stall seconds or --timeout passes.
"""
import argparse
import itertools
import os
import random
import smtplib
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time

HOST = "127.0.0.1"
DESTS = 10
POLL = 0.05
# Postfix's queue directories that hold messages not yet done with.
PF_QUEUES = ("maildrop", "incoming", "active", "deferred", "hold")


def log(msg):
    print("[bench-relay] " + msg, file=sys.stderr, flush=True)


def die(msg):
    log("error: " + msg)
    sys.exit(1)


def rcpt_of(i):
    return "u%05d@d%d.bench.test" % (i, i % DESTS)


def make_message(i, sender, size, run_id):
    # Deterministic text body of plain 72-character lines: same bytes for every server.
    rnd = random.Random(i)
    words = ["relay", "queue", "throughput", "loopback", "postfix", "roost", "message",
             "delivery", "destination", "benchmark", "memory", "sink", "outbound"]
    head = ("From: Bench Sender <%s>\r\nTo: <%s>\r\nSubject: bench-relay message %d\r\n"
            "Date: %s\r\nMessage-ID: <bench-relay-%s-%d@example.test>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n\r\n") % (
        sender, rcpt_of(i), i, time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
        run_id, i)
    body, n = [], len(head)
    while n < size:
        line = ""
        while len(line) < 66:
            line += rnd.choice(words) + " "
        line = line.rstrip()[:72]
        body.append(line)
        n += len(line) + 2
    return (head + "\r\n".join(body) + "\r\n").encode("ascii")


def cmd_fill(a):
    counter = itertools.count()
    lock = threading.Lock()
    errors, sent = [], [0]
    run_id = "%d-%d" % (os.getpid(), int(time.time()))
    deadline = time.monotonic() + a.timeout

    def connect():
        s = smtplib.SMTP(HOST, a.port, local_hostname="client.bench.test", timeout=60)
        s.ehlo()
        if a.user:
            s.user, s.password = a.user, a.password
            s.auth("PLAIN", s.auth_plain)
        return s

    def client():
        conn = None
        try:
            while not errors:
                with lock:
                    i = next(counter)
                if i >= a.msgs:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("fill took longer than %ds" % a.timeout)
                msg = make_message(i, a.sender, a.size, run_id)
                for attempt in range(3):
                    try:
                        if conn is None:
                            conn = connect()
                        conn.sendmail(a.sender, [rcpt_of(i)], msg)
                        break
                    except (smtplib.SMTPServerDisconnected, ConnectionError, socket.timeout) as e:
                        err = e
                    except smtplib.SMTPResponseException as e:
                        if e.smtp_code >= 500:
                            raise
                        err = e
                    except smtplib.SMTPRecipientsRefused as e:
                        if any(c >= 500 for c, _ in e.recipients.values()):
                            raise
                        err = e
                    # temporary: start over on a new connection
                    try:
                        if conn is not None:
                            conn.close()
                    except Exception:
                        pass
                    conn = None
                    time.sleep(0.2 * (attempt + 1))
                else:
                    raise RuntimeError("message %d not accepted after 3 tries: %r" % (i, err))
                with lock:
                    sent[0] += 1
        except Exception as e:  # noqa: BLE001 -- reported, and the run fails
            errors.append("%s: %r" % (threading.current_thread().name, e))
        finally:
            if conn is not None:
                try:
                    conn.quit()
                except Exception:
                    pass

    t0 = time.monotonic()
    threads = [threading.Thread(target=client, name="client%d" % t) for t in range(a.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.monotonic() - t0
    if errors:
        die("fill: %s" % errors[0])
    if sent[0] != a.msgs:
        die("fill: %d of %d messages accepted" % (sent[0], a.msgs))
    log("fill: %d messages of ~%d bytes accepted on port %d in %.1fs (%d clients)"
        % (sent[0], a.size, a.port, secs, a.threads))


def dns_query(server, port, name, qtype=15):
    """rcode and answer count of one UDP query (MX by default)."""
    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        s.sendto(q, (server, port))
        r = s.recv(4096)
    rid, flags, _, an = struct.unpack(">HHHH", r[:8])
    if rid != qid:
        raise OSError("answer to another query")
    return flags & 0xF, an


def cmd_dns_wait(a):
    deadline = time.monotonic() + a.timeout
    last = None
    while time.monotonic() < deadline:
        try:
            rcode, an = dns_query(a.server, a.port, a.name)
            if rcode == 0 and an > 0:
                return
            last = "rcode=%d answers=%d" % (rcode, an)
        except OSError as e:
            last = repr(e)
        time.sleep(0.1)
    die("no MX answer for %s from %s:%d within %ds (%s)" % (a.name, a.server, a.port, a.timeout, last))


def roost_states(db):
    # read-only while Roost writes: WAL lets readers in
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
    try:
        return dict(c.execute("SELECT state, count(*) FROM queue_recipients GROUP BY state"))
    finally:
        c.close()


def cmd_roost_wait_deferred(a):
    deadline = time.monotonic() + a.timeout
    states = {}
    while time.monotonic() < deadline:
        try:
            states = roost_states(a.db)
        except sqlite3.Error as e:
            states = {"error": str(e)}
        if states.get("deferred") == a.msgs and sum(v for v in states.values() if isinstance(v, int)) == a.msgs:
            return
        time.sleep(0.2)
    die("after %ds the queue is %r, not %d deferred" % (a.timeout, states, a.msgs))


def postfix_count(qdir):
    n = 0
    for sub in PF_QUEUES:
        for _root, _dirs, files in os.walk(os.path.join(qdir, sub)):
            n += len(files)
    return n


def cmd_drain(a):
    if a.db:
        def count():
            return sum(roost_states(a.db).values())
    else:
        def count():
            return postfix_count(a.postfix_queue)
    before = count()
    if before != a.msgs:
        die("drain: %d messages queued before the release, expected %d" % (before, a.msgs))
    t0 = time.monotonic()
    r = subprocess.run(a.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        die("drain: %s failed: %s" % (" ".join(a.cmd), r.stderr.strip()))
    release_secs = time.monotonic() - t0
    first = None
    last_n, last_change = before, time.monotonic()
    while True:
        now = time.monotonic()
        try:
            n = count()
        except sqlite3.Error:
            n = last_n  # busy: try again
        if n < a.msgs and first is None:
            first = now - t0
        if n == 0:
            break
        if n != last_n:
            last_n, last_change = n, now
        if now - last_change > a.stall:
            die("drain: stuck at %d queued for %ds%s" % (
                n, a.stall, " (%r)" % roost_states(a.db) if a.db else ""))
        if now - t0 > a.timeout:
            die("drain: %d still queued after %ds" % (n, a.timeout))
        time.sleep(POLL)
    secs = time.monotonic() - t0
    print("drain: msgs=%d secs=%.2f outbound_msgs_per_sec=%.1f first_done_secs=%.2f release_cmd_secs=%.2f"
          % (a.msgs, secs, a.msgs / secs, first if first is not None else secs, release_secs), flush=True)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="what", required=True)
    f = sub.add_parser("fill")
    f.add_argument("--port", type=int, required=True)
    f.add_argument("--user", default="")
    f.add_argument("--password", default="")
    f.add_argument("--sender", default="alice@example.test")
    f.add_argument("--msgs", type=int, default=5000)
    f.add_argument("--threads", type=int, default=10)
    f.add_argument("--size", type=int, default=5000)
    f.add_argument("--timeout", type=int, default=900)
    d = sub.add_parser("dns-wait")
    d.add_argument("--server", required=True)
    d.add_argument("--port", type=int, default=53)
    d.add_argument("--name", required=True)
    d.add_argument("--timeout", type=int, default=10)
    w = sub.add_parser("roost-wait-deferred")
    w.add_argument("--db", required=True)
    w.add_argument("--msgs", type=int, required=True)
    w.add_argument("--timeout", type=int, default=300)
    r = sub.add_parser("drain")
    r.add_argument("--db", default="")
    r.add_argument("--postfix-queue", default="")
    r.add_argument("--msgs", type=int, required=True)
    r.add_argument("--timeout", type=int, default=600)
    r.add_argument("--stall", type=int, default=60)
    r.add_argument("cmd", nargs="+")
    a = ap.parse_args()
    {"fill": cmd_fill, "dns-wait": cmd_dns_wait, "roost-wait-deferred": cmd_roost_wait_deferred,
     "drain": cmd_drain}[a.what](a)


if __name__ == "__main__":
    main()
