#!/usr/bin/env python3
"""bench_flood.py -- hold Roost under a crowd of hostile clients and watch its memory.

  bench_flood.py --smtp PORT --imap PORT --pid PID --data DIR [--seconds 150]

From loopback source addresses of its own (127.0.1.x, 127.0.2.x, 127.0.3.x), at once:
  * SLOW SMTP connections (default 500) each announce a 50 MiB message (MAIL ... SIZE=52428800),
    start DATA and then send it slowly, 1 KiB a second; most hang up at the end without
    finishing, FINISH of them end their message properly;
  * IDLE IMAP connections (default 500) that never log in, each with an open literal (half
    synchronizing {8000}, half LITERAL+ {8000+}), a few bytes of it sent;
  * one ordinary sender that delivers a small message every half second, from fresh
    connections, as a normal server would.
It samples the daemon's RSS every quarter second and prints one summary; the exit status is
0 only when every ordinary message was accepted and stored, the finished slow messages were
stored whole, and the peak RSS stayed under the limit given by --rss-limit-mib.
Talks to 127.0.0.1 only. Bounded: it stops after --seconds.
"""
import argparse
import asyncio
import os
import statistics
import sys
import time


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return 0
    return 0


async def reply(reader):
    """One SMTP reply (all its lines); returns the code."""
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("closed")
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3])


async def slow_sender(i, args, stop, stats):
    src = f"127.0.1.{1 + i // 25}"
    try:
        r, w = await asyncio.open_connection("127.0.0.1", args.smtp, local_addr=(src, 0))
        await reply(r)
        for cmd, want in [
            (b"EHLO slow.test", 250),
            (f"MAIL FROM:<slow{i}@remote.test> SIZE=52428800".encode(), 250),
            (b"RCPT TO:<alice@example.test>", 250),
            (b"DATA", 354),
        ]:
            w.write(cmd + b"\r\n")
            await w.drain()
            code = await reply(r)
            if code != want:
                stats["slow_refused"] += 1
                w.close()
                return
        stats["slow_open"] += 1
        w.write(f"Subject: slow {i}\r\nFrom: slow{i}@remote.test\r\n\r\n".encode())
        line = (f"{i:05d} " + "x" * 1017 + "\r\n").encode()
        sent = 0
        while not stop.is_set():
            for _ in range(args.rate_kib):
                w.write(line)
                sent += len(line)
            await w.drain()
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except asyncio.TimeoutError:
                pass
        if i < args.finish:
            w.write(b".\r\n")
            await w.drain()
            code = await asyncio.wait_for(reply(r), 60)
            if code == 250:
                stats["slow_stored"] += 1
                stats["slow_bytes"].append(sent)
        w.close()
    except (OSError, ConnectionError, asyncio.TimeoutError):
        stats["slow_errors"] += 1


async def idle_imap(i, args, stop, stats):
    src = f"127.0.2.{1 + i // 25}"
    try:
        r, w = await asyncio.open_connection("127.0.0.1", args.imap, local_addr=(src, 0))
        greeting = await r.readline()
        if not greeting.startswith(b"* OK"):
            stats["imap_refused"] += 1
            return
        if i % 2 == 0:
            w.write(b"a LOGIN {8000}\r\n")
            await w.drain()
            go = await r.readline()
            if not go.startswith(b"+"):
                stats["imap_refused"] += 1
                return
        else:
            w.write(b"a LOGIN {8000+}\r\n")
        w.write(b"y" * 100)
        await w.drain()
        stats["imap_open"] += 1
        await stop.wait()
        w.close()
    except (OSError, ConnectionError):
        stats["imap_errors"] += 1


async def ordinary(args, stop, stats):
    n = 0
    while not stop.is_set():
        src = f"127.0.3.{1 + n % 5}"
        t0 = time.monotonic()
        try:
            r, w = await asyncio.open_connection("127.0.0.1", args.smtp, local_addr=(src, 0))
            await reply(r)
            ok = True
            for cmd in [b"EHLO ok.test", b"MAIL FROM:<friend@remote.test>", b"RCPT TO:<bob@example.test>", b"DATA"]:
                w.write(cmd + b"\r\n")
                await w.drain()
                code = await reply(r)
                ok = ok and code in (250, 354)
            w.write(f"Subject: ordinary {n}\r\n\r\nhello {n}\r\n.\r\n".encode())
            await w.drain()
            code = await reply(r)
            w.write(b"QUIT\r\n")
            await w.drain()
            w.close()
            stats["ordinary_sent"] += 1
            if ok and code == 250:
                stats["ordinary_ok"] += 1
                stats["latency"].append(time.monotonic() - t0)
        except (OSError, ConnectionError) as e:
            stats["ordinary_sent"] += 1
            stats["ordinary_failed"].append(str(e))
        n += 1
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except asyncio.TimeoutError:
            pass


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--smtp", type=int, required=True)
    p.add_argument("--imap", type=int, required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--seconds", type=float, default=150)
    p.add_argument("--slow", type=int, default=500)
    p.add_argument("--idle", type=int, default=500)
    p.add_argument("--finish", type=int, default=10)
    p.add_argument("--rate-kib", type=int, default=2)
    p.add_argument("--rss-limit-mib", type=float, required=True)
    args = p.parse_args()

    stats = {k: 0 for k in ["slow_open", "slow_refused", "slow_errors", "slow_stored",
                             "imap_open", "imap_refused", "imap_errors",
                             "ordinary_sent", "ordinary_ok"]}
    stats["latency"] = []
    stats["ordinary_failed"] = []
    stats["slow_bytes"] = []
    stop = asyncio.Event()
    base = rss_kib(args.pid)
    peak = base
    tasks = [asyncio.create_task(slow_sender(i, args, stop, stats)) for i in range(args.slow)]
    tasks += [asyncio.create_task(idle_imap(i, args, stop, stats)) for i in range(args.idle)]
    tasks.append(asyncio.create_task(ordinary(args, stop, stats)))
    start = time.monotonic()
    while time.monotonic() - start < args.seconds:
        await asyncio.sleep(0.25)
        peak = max(peak, rss_kib(args.pid))
    held = (stats["slow_open"], stats["imap_open"])
    stop.set()
    end = time.monotonic() + 90
    while any(not t.done() for t in tasks) and time.monotonic() < end:
        await asyncio.sleep(0.25)
        peak = max(peak, rss_kib(args.pid))
    for t in tasks:
        t.cancel()
    lat = sorted(stats["latency"])
    p50 = statistics.median(lat) * 1000 if lat else 0
    p95 = lat[int(len(lat) * 0.95) - 1] * 1000 if lat else 0
    print(f"flood: held {held[0]} slow 50 MiB SMTP senders and {held[1]} idle pre-login IMAP "
          f"connections with open literals for {args.seconds:.0f} s "
          f"(refused: {stats['slow_refused']} smtp, {stats['imap_refused']} imap; "
          f"errors: {stats['slow_errors']} smtp, {stats['imap_errors']} imap)")
    print(f"flood: ordinary deliveries accepted {stats['ordinary_ok']}/{stats['ordinary_sent']}, "
          f"latency p50 {p50:.1f} ms p95 {p95:.1f} ms")
    print(f"flood: finished slow messages stored {stats['slow_stored']}/{args.finish}")
    print(f"mem: rss_before_kib={base} peak_rss_kib={peak} limit_kib={int(args.rss_limit_mib * 1024)}")
    for e in stats["ordinary_failed"][:5]:
        print(f"flood: ordinary failure: {e}")
    ok = (stats["ordinary_ok"] == stats["ordinary_sent"] and stats["ordinary_ok"] > 0
          and stats["slow_stored"] == args.finish
          and held[0] == args.slow and held[1] == args.idle
          and peak <= args.rss_limit_mib * 1024)
    print(f"totals: ordinary={stats['ordinary_ok']} finished={stats['slow_stored']} "
          f"finished_bytes={','.join(map(str, stats['slow_bytes']))}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
