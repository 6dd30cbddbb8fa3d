#!/usr/bin/python3
"""tags_test.py - rcached's tag commands (issue 14) driven by redis-py
(Debian python3-redis): RCACHE.SET with SET's options and TAGS,
RCACHE.TAGS, RCACHE.TAG.INVALIDATE; what keeps tags (APPEND, INCR,
EXPIRE, RENAME moves them) and what drops them (a plain SET, DEL, expiry
through the frozen DEBUG clock); argument errors; the INFO figures; a
transaction and a WATCH aborted by a tag invalidation.

Usage: tags_test.py <rcached binary>
"""
import subprocess
import sys
import time

import redis
from redis.exceptions import ResponseError, WatchError

from rtest import DEADLINE_S, free_port



def expect_error(fn, fragment):
    try:
        fn()
    except ResponseError as e:
        assert fragment in str(e), "error %r lacks %r" % (str(e), fragment)
        return
    raise AssertionError("no error, expected one with %r" % fragment)


def tags(r, key):
    v = r.execute_command("RCACHE.TAGS", key)
    return None if v is None else sorted(x.decode() for x in v)


def info(r, field):
    return int(r.info("stats")[field])


def test_basic(r):
    assert r.execute_command("RCACHE.SET", "p:1", "one", "TAGS", "img:42", "user:7") == b"OK"
    assert r.execute_command("RCACHE.SET", "p:2", "two", "EX", "100", "TAGS", "img:42") == b"OK"
    assert r.execute_command("RCACHE.SET", "p:3", "three", "tags", "user:7", "user:7") == b"OK"
    r.set("plain", "x")
    assert r.get("p:1") == b"one"
    assert 0 < r.ttl("p:2") <= 100
    assert tags(r, "p:1") == ["img:42", "user:7"]
    assert tags(r, "p:3") == ["user:7"]  # a duplicate counts once
    assert tags(r, "plain") == []
    assert tags(r, "missing") is None
    assert info(r, "tags") == 2 and info(r, "tagged_keys") == 3
    # SET's options: NX refused keeps the old entry and its tags; GET
    assert r.execute_command("RCACHE.SET", "p:1", "new", "NX", "TAGS", "other") is None
    assert tags(r, "p:1") == ["img:42", "user:7"]
    assert r.execute_command("RCACHE.SET", "p:1", "uno", "GET", "XX", "TAGS",
                             "img:42", "user:7") == b"one"
    assert r.execute_command("RCACHE.TAG.INVALIDATE", "img:42") == 2
    assert r.get("p:1") is None and r.get("p:2") is None
    assert r.get("p:3") == b"three"
    assert r.execute_command("RCACHE.TAG.INVALIDATE", "img:42") == 0
    assert r.execute_command("RCACHE.TAG.INVALIDATE", "user:7") == 1
    assert info(r, "tags") == 0 and info(r, "tagged_keys") == 0
    assert info(r, "tag_invalidations") == 3 and info(r, "tag_invalidated_keys") == 3
    r.flushall()
    print("ok basic")


def test_keep_and_drop(r):
    r.execute_command("RCACHE.SET", "n", "10", "TAGS", "t")
    r.incr("n")
    r.append("n", "0")
    r.expire("n", 1000)
    assert r.get("n") == b"110" and tags(r, "n") == ["t"]
    r.rename("n", "m")  # the tags move with the key
    assert tags(r, "m") == ["t"] and tags(r, "n") is None
    assert r.copy("m", "m2")  # a copy keeps the tags
    assert tags(r, "m2") == ["t"]
    r.execute_command("MOVE", "m2", "3")  # so does a move to another database
    r3 = redis.Redis(host="127.0.0.1", port=r.connection_pool.connection_kwargs["port"], db=3)
    assert tags(r3, "m2") == ["t"] and tags(r, "m2") is None
    assert r.execute_command("RCACHE.TAG.INVALIDATE", "t") == 2  # tags span databases
    assert r3.exists("m2") == 0
    r.execute_command("RCACHE.SET", "m", "110", "TAGS", "t")
    r.set("m", "plain")  # a plain SET replaces the entry: no tags
    assert tags(r, "m") == []
    assert r.execute_command("RCACHE.TAG.INVALIDATE", "t") == 0
    assert r.get("m") == b"plain"
    r.execute_command("RCACHE.SET", "d", "v", "TAGS", "t")
    r.delete("d")
    assert r.execute_command("RCACHE.TAG.INVALIDATE", "t") == 0
    # expiry on the frozen clock: an expired key is not counted
    r.execute_command("DEBUG", "CLOCK-FREEZE")
    r.execute_command("RCACHE.SET", "e1", "v", "PX", "1000", "TAGS", "exp")
    r.execute_command("RCACHE.SET", "e2", "v", "TAGS", "exp")
    r.execute_command("DEBUG", "CLOCK-ADVANCE", "2000")
    assert r.execute_command("RCACHE.TAG.INVALIDATE", "exp") == 1
    assert info(r, "tagged_keys") == 0
    r.execute_command("DEBUG", "CLOCK-RESUME")
    r.flushall()
    print("ok keep and drop")


def test_errors(r):
    expect_error(lambda: r.execute_command("RCACHE.SET", "k", "v", "EX", "10"),
                 "TAGS and at least one tag")
    expect_error(lambda: r.execute_command("RCACHE.SET", "k", "v", "TAGS"),
                 "wrong number of arguments")
    expect_error(lambda: r.execute_command("RCACHE.SET", "k", "v", "EX", "10", "TAGS"),
                 "TAGS and at least one tag")
    expect_error(lambda: r.execute_command("RCACHE.SET", "k", "v", "BOGUS", "TAGS", "a"),
                 "syntax error")
    expect_error(lambda: r.execute_command("RCACHE.SET", "k", "v", "EX", "0", "TAGS", "a"),
                 "invalid expire time")
    expect_error(lambda: r.execute_command("RCACHE.SET", "k", "v", "TAGS",
                                           *["t%d" % i for i in range(33)]),
                 "too many tags")
    expect_error(lambda: r.execute_command("RCACHE.SET", "k", "v", "TAGS", "", "a"),
                 "1 to 1024 bytes")
    expect_error(lambda: r.execute_command("RCACHE.SET", "k", "v", "TAGS", "x" * 1025),
                 "1 to 1024 bytes")
    expect_error(lambda: r.execute_command("RCACHE.TAG.INVALIDATE", ""), "1 to 1024 bytes")
    expect_error(lambda: r.execute_command("RCACHE.TAG.INVALIDATE", "a", "b"),
                 "wrong number of arguments")
    assert r.exists("k") == 0
    assert r.execute_command("RCACHE.SET", "k", "v", "TAGS",
                             *["t%d" % i for i in range(32)]) == b"OK"
    assert len(tags(r, "k")) == 32
    assert r.execute_command("RCACHE.SET", "bin", "v", "TAGS", b"\x00\xff") == b"OK"
    assert r.execute_command("RCACHE.TAGS", "bin") == [b"\x00\xff"]
    assert r.execute_command("RCACHE.TAG.INVALIDATE", b"\x00\xff") == 1
    assert r.ping()
    r.flushall()
    print("ok errors")


def test_transactions(r):
    p = r.pipeline(transaction=True)
    p.execute_command("RCACHE.SET", "tx1", "a", "TAGS", "g")
    p.execute_command("RCACHE.SET", "tx2", "b", "TAGS", "g")
    p.execute_command("RCACHE.TAG.INVALIDATE", "g")
    assert p.execute() == [b"OK", b"OK", 2]
    # a tag invalidation aborts a transaction watching a key (as FLUSHDB)
    r.execute_command("RCACHE.SET", "w", "1", "TAGS", "g")
    other = redis.Redis(host="127.0.0.1", port=r.connection_pool.connection_kwargs["port"])
    with r.pipeline() as p:
        p.watch("w")
        other.execute_command("RCACHE.TAG.INVALIDATE", "g")
        p.multi()
        p.set("w", "2")
        try:
            p.execute()
            raise AssertionError("EXEC should have aborted")
        except WatchError:
            pass
    assert r.get("w") is None
    r.flushall()
    print("ok transactions")


def main():
    binary = sys.argv[1]
    port = free_port()
    srv = subprocess.Popen([binary, "--port", str(port), "--admin-port", "0",
                            "--threads", "2", "--loglevel", "warning",
                            "--enable-debug-command", "yes"])
    r = redis.Redis(host="127.0.0.1", port=port)
    try:
        end = time.monotonic() + DEADLINE_S
        while True:
            try:
                r.ping()
                break
            except redis.exceptions.ConnectionError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.02)
        for t in (test_basic, test_keep_and_drop, test_errors, test_transactions):
            t(r)
    finally:
        srv.terminate()
        rc = srv.wait(DEADLINE_S)
    assert rc == 0, "rcached exited with %d" % rc
    print("all ok")


if __name__ == "__main__":
    main()
