#!/usr/bin/python3
"""bits_bench.py - SETBIT and BITFIELD INCRBY at random offsets of one large
bitmap (12.5 MB), rcached against redis-server 7.0 in the same run, and
prints requests/s and the ratio. It shows that a bit write changes the
entry in place: a write that copied the value would run at a few hundred
per second, not at Redis's rate.

Usage: bench/bits_bench.py <rcached binary> [requests] [pipeline]
Prints figures only; nothing is asserted.
"""
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "server"))
from bits_diff_test import Conn, free_port, start  # noqa: E402

BITS = 100_000_000


def bench(conn, cmds, pipeline):
    t0 = time.monotonic()
    for i in range(0, len(cmds), pipeline):
        chunk = cmds[i:i + pipeline]
        conn.send(chunk)
        for _ in chunk:
            r = conn.reply()
            if r[0] == b"-":
                raise RuntimeError(r[1])
    return len(cmds) / (time.monotonic() - t0)


def main():
    rcached = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
    pipeline = int(sys.argv[3]) if len(sys.argv) > 3 else 32
    rnd = random.Random(1)
    workloads = {
        "SETBIT": [["SETBIT", "bm", str(rnd.randrange(BITS)), "1"] for _ in range(n)],
        "BITFIELD INCRBY": [["BITFIELD", "bm", "INCRBY", "u8", str(rnd.randrange(BITS - 8)), "1"]
                            for _ in range(n)],
        "GETBIT": [["GETBIT", "bm", str(rnd.randrange(BITS))] for _ in range(n)],
    }
    tmp = tempfile.mkdtemp(prefix="bits_bench_")
    procs = []
    try:
        servers = {}
        log = open(os.devnull, "wb")
        op = free_port()
        p, c = start(["redis-server", "--port", str(op), "--save", "", "--dir", tmp], op, log)
        procs.append(p)
        servers["redis-server"] = c
        rp = free_port()
        p, c = start([rcached, "--port", str(rp), "--admin-port", "0", "--save", "",
                      "--loglevel", "warning"], rp, log)
        procs.append(p)
        servers["rcached"] = c
        for c in servers.values():
            c.send([["SETBIT", "bm", str(BITS - 1), "1"]])
            c.reply()
        print("%-16s %14s %14s %7s" % ("command", "redis-server/s", "rcached/s", "ratio"))
        for name, cmds in workloads.items():
            rates = {s: bench(c, cmds, pipeline) for s, c in servers.items()}
            print("%-16s %14.0f %14.0f %7.2f" % (name, rates["redis-server"], rates["rcached"],
                                                 rates["rcached"] / rates["redis-server"]))
    finally:
        for p in procs:
            p.terminate()
            p.wait(60)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
