#!/usr/bin/env python3
"""The load of scripts/bench-classifier: teach each user's classifier over IMAP (30 spammy
messages moved into Junk, 30 others moved into Archive), then send --msgs varied messages over
SMTP from --threads connections, sampling the roost process's RSS and PSS all along."""
import argparse
import imaplib
import random
import smtplib
import threading
import time

SPAM = ("casino jackpot bonus winner lottery bitcoin investment guaranteed profit pharmacy "
        "discount replica watches unclaimed prize exclusive offer cheap pills urgent").split()
HAM = ("meeting agenda project lunch family photos weekend garden school holiday minutes "
       "report dinner grandma birthday recipe invoice train concert library").split()
COMMON = "the and for with this that from your have will about there their what".split()


def message(rng, n, spammy, to):
    words = SPAM if spammy else HAM
    body = " ".join(rng.choice(words + COMMON) for _ in range(rng.randint(80, 400)))
    subject = " ".join(rng.choice(words) for _ in range(4))
    return (f"From: <s{n % 500}@sender{n % 37}.test>\r\nTo: <{to}>\r\nSubject: {subject}\r\n"
            f"Date: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{n}@bench.test>\r\n\r\n"
            f"{body}\r\n")


def mem(pid):
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def main():
    a = argparse.ArgumentParser()
    for k in ("smtp", "imap", "pid", "users", "msgs", "threads"):
        a.add_argument(f"--{k}", type=int, required=True)
    o = a.parse_args()
    rng = random.Random(7)
    users = [f"u{i}@bench.test" for i in range(1, o.users + 1)]
    # Teach: 30 of each kind per user, sorted as a person would.
    s = smtplib.SMTP("127.0.0.1", o.smtp)
    for u in users:
        for n in range(60):
            s.sendmail("x@remote.test", [u], message(rng, n, n % 2 == 0, u))
    s.quit()
    time.sleep(1)
    for u in users:
        m = imaplib.IMAP4("127.0.0.1", o.imap)
        m.login(u, "bench-password-1")
        m.select("INBOX")
        typ, data = m.search(None, "ALL")
        ids = data[0].split()
        spam = [i for k, i in enumerate(ids) if k % 2 == 0]
        ham = [i for k, i in enumerate(ids) if k % 2 == 1]
        m.copy(b",".join(spam).decode(), "Junk")
        m.copy(b",".join(ham).decode(), "Archive")
        m.logout()
    time.sleep(3)
    peak = [0, 0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            rss, pss = mem(o.pid)
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)
            time.sleep(0.2)

    t = threading.Thread(target=sample)
    t.start()
    per = o.msgs // o.threads
    started = time.time()

    def send(k):
        r = random.Random(k)
        c = smtplib.SMTP("127.0.0.1", o.smtp)
        for n in range(per):
            to = users[n % len(users)]
            c.sendmail("x@remote.test", [to], message(r, k * per + n + 1000, n % 2 == 0, to))
        c.quit()

    ts = [threading.Thread(target=send, args=(k,)) for k in range(o.threads)]
    for x in ts:
        x.start()
    for x in ts:
        x.join()
    secs = time.time() - started
    time.sleep(1)
    done.set()
    t.join()
    rss, pss = mem(o.pid)
    print(f"sent={per * o.threads} secs={secs:.1f} msgs_per_sec={per * o.threads / secs:.0f} "
          f"peak_rss_kib={peak[0]} peak_pss_kib={peak[1]} end_rss_kib={rss}")


if __name__ == "__main__":
    main()
