#!/usr/bin/python3
"""bits_db_test.py - rcached's bit, LCS and cross-database commands and its
Redis limits, driven by redis-py (Debian python3-redis) and raw sockets
(issue 11). What the differential test (bits_diff_test.py) cannot show:

- atomicity per key: 8 processes SETBIT distinct bits of one key and
  BITFIELD INCRBY one counter at the same time: no update is lost;
- SWAPDB under concurrent INCRs loses none; it moves the contents
  (values and TTLs) and aborts a WATCH on a
  swapped database; MOVE and COPY ... DB abort a WATCH on the target key;
  DBSIZE of database 0 stays right after COPY/MOVE into another one;
- INFO keyspace: one line per non-empty database, as Redis prints them;
- LCS refuses inputs whose table would be too big with Redis's error and
  keeps serving;
- limits: SETBIT offsets, SETRANGE and APPEND obey a lowered
  proto-max-bulk-len; a bulk over it
  gets Redis's protocol error and a log line at the default level; a
  70 MB value (over the old 64 MB query-buffer default) is stored and read.

No assertion depends on timing (polls on a state with a generous deadline).

Usage: bits_db_test.py <rcached binary>
"""
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import tempfile
import time

import redis
from redis.exceptions import ResponseError, WatchError

from rtest import DEADLINE_S, free_port, poll

PORT = None
WORKERS = 8


def client(db=0):
    return redis.Redis(host="127.0.0.1", port=PORT, db=db)


# ---- atomicity -------------------------------------------------------------

def setbit_worker(port, w, n):
    global PORT
    PORT = port
    r = client()
    p = r.pipeline(transaction=False)
    for i in range(n):
        p.setbit("bm", i * WORKERS + w, 1)   # distinct bits, same bytes
        p.execute_command("BITFIELD", "ctr", "INCRBY", "u32", "#1", "1")
        if i % 50 == 49:
            p.execute()
    p.execute()


def test_atomic():
    r = client()
    r.delete("bm", "ctr")
    n = 400
    ps = [mp.Process(target=setbit_worker, args=(PORT, w, n)) for w in range(WORKERS)]
    for p in ps:
        p.start()
    for p in ps:
        p.join(DEADLINE_S)
        assert p.exitcode == 0
    assert r.bitcount("bm") == WORKERS * n, r.bitcount("bm")
    assert r.execute_command("BITFIELD", "ctr", "GET", "u32", "#1") == [WORKERS * n]
    assert r.strlen("ctr") == 8  # grown to the field's last byte only
    print("ok atomic SETBIT / BITFIELD")


# ---- databases -------------------------------------------------------------

def incr_worker(port, n):
    global PORT
    PORT = port
    r = client(1)
    for _ in range(n):
        r.incr("c")


def test_swapdb_concurrent():
    # writers increment one key of database 1 while SWAPDB 1 2 runs again
    # and again: no increment may be lost or fail (SWAPDB holds the
    # exclusive gate: no command runs between its listing and its renames)
    r0, r1, r2 = client(0), client(1), client(2)
    r0.flushall()
    n, swaps = 500, 0
    ps = [mp.Process(target=incr_worker, args=(PORT, n)) for _ in range(4)]
    for p in ps:
        p.start()
    while any(p.is_alive() for p in ps) or swaps < 20:
        assert r0.swapdb(1, 2)
        swaps += 1
    for p in ps:
        p.join(DEADLINE_S)
        assert p.exitcode == 0
    total = int(r1.get("c") or 0) + int(r2.get("c") or 0)
    assert total == 4 * n, (total, swaps)
    r0.flushall()
    print("ok SWAPDB under concurrent writes (%d swaps)" % swaps)


def test_swapdb_and_watch():
    r0, r1, r2 = client(0), client(1), client(2)
    r0.flushall()
    r1.set("a", "one", ex=1000)
    r1.set("both", "in1")
    r2.set("both", "in2")
    r2.set("b", "two")
    r0.set("z", "zero")
    # a transaction watching a key of database 1 ...
    p = r1.pipeline()
    p.watch("a")
    p.multi()
    p.set("a", "changed")
    # ... is aborted by SWAPDB 1 2 from another client
    assert r0.swapdb(1, 2)
    try:
        p.execute()
        raise AssertionError("EXEC should have been aborted by SWAPDB")
    except WatchError:
        pass
    assert r2.get("a") == b"one" and 0 < r2.ttl("a") <= 1000
    assert r1.get("a") is None and r1.get("b") == b"two"
    assert r1.get("both") == b"in2" and r2.get("both") == b"in1"
    assert r0.get("z") == b"zero"
    assert r0.dbsize() == 1 and r1.dbsize() == 2 and r2.dbsize() == 2
    # with database 0 as well
    assert r0.swapdb(0, 2)
    assert r0.get("a") == b"one" and r2.get("z") == b"zero" and r0.dbsize() == 2
    assert r0.swapdb(2, 0)

    # MOVE / COPY ... DB into a watched key of another database
    for how in ("move", "copy"):
        r0.set("src", "v", ex=500)
        r1.delete("src", "dst")
        p = r1.pipeline()
        p.watch("src" if how == "move" else "dst")
        p.multi()
        p.set("x", "1")
        if how == "move":
            assert r0.move("src", 1)
        else:
            assert r0.copy("src", "dst", destination_db=1)
        try:
            p.execute()
            raise AssertionError("EXEC should have been aborted by " + how)
        except WatchError:
            pass
        moved = "src" if how == "move" else "dst"
        assert r1.get(moved) == b"v" and 0 < r1.ttl(moved) <= 500  # TTL kept
    print("ok SWAPDB / MOVE / COPY with WATCH")


def test_dbsize_after_copy():
    # a fresh server: no SELECT ever, only COPY ... DB / MOVE into db 3
    port = free_port()
    srv = subprocess.Popen([BINARY, "--port", str(port), "--admin-port", "0", "--save", "",
                            "--loglevel", "warning"])
    try:
        r = redis.Redis(host="127.0.0.1", port=port)
        poll(lambda: _ping(r), "rcached to start")
        r.set("a", "1")
        r.set("b", "2")
        assert r.copy("a", "a", destination_db=3)
        assert r.move("b", 3)
        assert r.dbsize() == 1, r.dbsize()
        assert redis.Redis(host="127.0.0.1", port=port, db=3).dbsize() == 2
        ks = r.info("keyspace")
        assert ks == {"db0": {"keys": 1, "expires": 0, "avg_ttl": 0},
                      "db3": {"keys": 2, "expires": 0, "avg_ttl": 0}}, ks
    finally:
        srv.terminate()
        assert srv.wait(DEADLINE_S) == 0
    print("ok DBSIZE / INFO keyspace after COPY and MOVE")


def test_info_keyspace():
    r0, r5 = client(0), client(5)
    r0.flushall()
    r0.set("p", "1")
    r0.set("q", "1", ex=100)
    r5.set("p", "1", ex=200)
    ks = r0.info("keyspace")
    assert set(ks) == {"db0", "db5"}, ks
    assert ks["db0"]["keys"] == 2 and ks["db0"]["expires"] == 1
    assert 0 < ks["db0"]["avg_ttl"] <= 100000
    assert ks["db5"]["keys"] == 1 and ks["db5"]["expires"] == 1
    assert 100000 < ks["db5"]["avg_ttl"] <= 200000
    r0.flushall()
    assert r0.info("keyspace") == {}
    print("ok INFO keyspace")


# ---- LCS and limits --------------------------------------------------------

def test_lcs_bound():
    r = client()
    r.set("la", "ab" * 4500)
    r.set("lb", "ba" * 4500)  # 9000 x 9000: a 324 MB table
    try:
        r.execute_command("LCS", "la", "lb", "LEN")
        raise AssertionError("LCS of two 9000-byte strings should be refused")
    except ResponseError as e:
        assert str(e) == "Insufficient memory, failed allocating transient memory for LCS", e
    r.set("la", "ohmytext")
    r.set("lb", "mynewtext")
    assert r.execute_command("LCS", "la", "lb") == b"mytext"
    assert r.ping()
    print("ok LCS bound")


def test_append_empty():
    # Redis creates an empty string for APPEND of "" to a missing key (rcached
    # did not before; SETRANGE of "" does not create it in either)
    r = client()
    r.delete("e1", "e2")
    assert r.append("e1", "") == 0 and r.exists("e1") == 1 and r.get("e1") == b""
    assert r.setrange("e2", 0, "") == 0 and r.exists("e2") == 0
    print("ok APPEND of an empty string")


def raw(data, until=b"\r\n"):
    s = socket.create_connection(("127.0.0.1", PORT))
    s.sendall(data)
    out = b""
    end = time.monotonic() + DEADLINE_S
    while until not in out and time.monotonic() < end:
        d = s.recv(65536)
        if not d:
            break
        out += d
    s.close()
    return out


def test_limits(log_path):
    r = client()
    assert r.config_get("proto-max-bulk-len") == {"proto-max-bulk-len": str(512 << 20)}
    assert r.config_get("client-query-buffer-limit") == {"client-query-buffer-limit": str(1 << 30)}
    # SETBIT offsets obey proto-max-bulk-len (as Redis: offset / 8 < limit)
    assert r.config_set("proto-max-bulk-len", "1mb")
    r.delete("bits")
    assert r.setbit("bits", 8 * (1 << 20) - 1, 1) == 0
    assert r.strlen("bits") == 1 << 20
    for off in (8 * (1 << 20), 2 ** 32):
        try:
            r.setbit("bits", off, 1)
            raise AssertionError("offset %d should be refused" % off)
        except ResponseError as e:
            assert str(e) == "bit offset is not an integer or out of range"
    # so do SETRANGE and APPEND (Redis's checkStringLength; rcached used a
    # fixed 512 MB before)
    r.delete("sr")
    for f in (lambda: r.setrange("sr", 1 << 20, "a"),
              lambda: (r.setrange("sr", (1 << 20) - 1, "a"), r.append("sr", "x"))):
        try:
            f()
            raise AssertionError("a string over proto-max-bulk-len should be refused")
        except ResponseError as e:
            assert str(e) == "string exceeds maximum allowed size (proto-max-bulk-len)", e
    assert r.strlen("sr") == 1 << 20 and r.setrange("missing", 1 << 30, "") == 0
    # a bulk over the limit: Redis's reply, and a log line at the default level
    out = raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n")
    assert out == b"-ERR Protocol error: invalid bulk length\r\n", out
    poll(lambda: b"Protocol error (Protocol error: invalid bulk length)" in
         open(log_path, "rb").read(), "the protocol-error log line")
    assert r.config_set("proto-max-bulk-len", "512mb")
    # 70 MB: over the old 64 MB query-buffer default, under Redis's limits
    big = os.urandom(70 << 20)
    assert r.set("big", big)
    assert r.get("big") == big
    r.delete("big", "bits")
    print("ok limits")


def _ping(r=None):
    try:
        return (r or client()).ping()
    except redis.exceptions.ConnectionError:
        return False


def main():
    global PORT, BINARY
    BINARY = sys.argv[1]
    PORT = free_port()
    logdir = tempfile.mkdtemp(prefix="bits_db_")
    log_path = os.path.join(logdir, "rcached.log")
    log = open(log_path, "wb")
    srv = subprocess.Popen([BINARY, "--port", str(PORT), "--admin-port", "0", "--save", "",
                            "--threads", "4", "--maxmemory", "1gb"],
                           stdout=log, stderr=subprocess.STDOUT)
    try:
        poll(_ping, "rcached to start")
        for t in (test_atomic, test_swapdb_concurrent, test_swapdb_and_watch, test_dbsize_after_copy,
                  test_info_keyspace, test_lcs_bound, test_append_empty):
            t()
        test_limits(log_path)
    finally:
        srv.terminate()
        rc = srv.wait(DEADLINE_S)
        log.close()
    assert rc == 0, "rcached exited with %d" % rc
    print("all ok")


if __name__ == "__main__":
    mp.set_start_method("fork")
    main()
