#!/usr/bin/python3
"""rcached_l2_test.py - rcached as the L2 of two rcached nodes: the tier
(src/tier, hiredis) enables `CLIENT TRACKING on REDIRECT <bus id> BCAST
PREFIX rc: NOLOOP` on the L2 and listens on __redis__:invalidate, so the
nodes see each other's writes through an rcached L2 as they do through
redis-server (rcached_nodes_test.py).

Checks: the L2 shows the tracking connections (flags tB, redir= the bus
client) and INFO tracking_*; a SET on A is read on B (L2, then L1); an
overwrite on A, an INCR on A, a DEL and a write made directly on the L2
each reach the other node's L1 (B's tier_invalidations grows, reads
return the new value); a CLIENT TRACKING client of node B is told of a
write made on node A and of the L2's FLUSHALL (the tier's invalidations of
B's L1 reach B's tracking); FLUSHALL on the L2 empties both nodes. Every wait
is a poll with a generous deadline.

Usage: rcached_l2_test.py <rcached>
"""
import os
import socket
import subprocess
import sys

import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
import rtest  # noqa: E402  (tests/server/rtest.py)
from rtest import free_port  # noqa: E402

DEADLINE_S = 60


def poll(fn, what):
    """rtest.poll, a connection error counting as "not yet"."""
    return rtest.poll(fn, what, errors=(redis.exceptions.ConnectionError, OSError))


def l1_read(n, k, v):
    """n answers k with v and the answer came from its L1 (no L2 hit)."""
    before = n.info("tier")["tier_l2_hits"]
    return n.get(k) == v and n.info("tier")["tier_l2_hits"] == before


def main():
    binary = sys.argv[1]
    common = ["--loglevel", "warning", "--threads", "2", "--admin-port", "0"]
    lport, aport, bport = free_port(), free_port(), free_port()
    l2url = "redis://127.0.0.1:%d" % lport
    procs = [subprocess.Popen([binary, "--port", str(lport)] + common)]
    L2 = redis.Redis(port=lport)
    poll(lambda: L2.ping(), "the L2 rcached")
    procs += [subprocess.Popen([binary, "--port", str(p), "--l2", l2url] + common)
              for p in (aport, bport)]
    A, B = redis.Redis(port=aport), redis.Redis(port=bport)
    try:
        for n in (A, B):
            poll(lambda: n.ping() and n.info("tier")["tier_connected"] == 1, "node up")
        # Tracking is really on at the L2: two BCAST clients redirected to
        # two subscribed bus clients.
        clients = L2.client_list()
        trackers = [c for c in clients if c["flags"] == "tB"]
        subs = {c["id"] for c in clients if c["flags"] == "P"}
        assert len(trackers) == 2 and {c["redir"] for c in trackers} <= subs, clients
        st = L2.info("stats")
        assert st["tracking_total_prefixes"] == 1, st
        assert L2.info("clients")["tracking_clients"] == 2

        assert A.set("greeting", "hello")
        assert L2.get("rc:greeting") == b"hello"
        poll(lambda: B.get("greeting") == b"hello", "B reads A's SET")
        poll(lambda: l1_read(B, "greeting", b"hello"), "B serves it from L1")

        inv = B.info("tier")["tier_invalidations"]
        assert A.set("greeting", "v2")
        poll(lambda: B.get("greeting") == b"v2", "A's overwrite reaches B")
        assert B.info("tier")["tier_invalidations"] > inv

        assert A.set("n", "1")
        poll(lambda: l1_read(B, "n", b"1"), "B caches n")
        assert A.incr("n") == 2
        poll(lambda: B.get("n") == b"2", "INCR on A reaches B")

        # (A DEL through a node is not checked here: the tier's delete runs
        # a script on its tag sets, SMEMBERS/SREM, and rcached has no sets.)
        poll(lambda: l1_read(A, "greeting", b"v2"), "A caches greeting")
        assert L2.delete("rc:greeting") == 1
        poll(lambda: A.get("greeting") is None, "DEL on the L2 reaches A")

        # A write made on the L2 itself (another application) reaches both.
        assert A.set("shared", "old")
        for n in (A, B):
            poll(lambda: l1_read(n, "shared", b"old"), "L1 holds shared")
        assert L2.set("rc:shared", "new")
        for n in (A, B):
            poll(lambda: n.get("shared") == b"new", "a write on the L2 reaches a node")

        # A CLIENT TRACKING client of node B hears of a write made on node
        # A (the tier's invalidation of B's L1 reaches B's tracking), and
        # of the L2's FLUSHALL (the null).
        tr = socket.create_connection(("127.0.0.1", bport))
        tr.settimeout(DEADLINE_S)
        tr.sendall(b"HELLO 3\r\nCLIENT TRACKING on\r\n")
        got = b""
        while not got.endswith(b"+OK\r\n"):
            got += tr.recv(65536)
        poll(lambda: B.get("watched") is None, "B reads watched")
        tr.sendall(b"GET watched\r\n")
        got = b""
        while not got.endswith(b"_\r\n"):
            got += tr.recv(65536)
        assert A.set("watched", "1")
        want = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$7\r\nwatched\r\n"
        got = b""
        while len(got) < len(want):
            got += tr.recv(65536)
        assert got == want, got

        for n in (A, B):
            poll(lambda: l1_read(n, "shared", b"new"), "L1 holds the new value")
        assert L2.flushall()
        want = b">2\r\n$10\r\ninvalidate\r\n_\r\n"
        got = b""
        while len(got) < len(want):
            got += tr.recv(65536)
        assert got == want, got
        tr.close()
        for n in (A, B):
            poll(lambda: n.get("shared") is None, "FLUSHALL on the L2 empties the node")
        print("ok: two rcached nodes kept coherent through an rcached L2")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(DEADLINE_S)


if __name__ == "__main__":
    main()
