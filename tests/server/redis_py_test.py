#!/usr/bin/python3
"""redis_py_test.py - rcached driven by redis-py (Debian python3-redis), the
way Python backends use Redis for locks and transactions (issue 11):

- Lock acquire / extend / release / timeout across processes (EVALSHA of
  redis-py's own Lua scripts);
- pipeline(transaction=True) with a WATCH retry loop from 8 processes: the
  final counter equals the number of increments;
- register_script, also after SCRIPT FLUSH (NOSCRIPT, then reloaded);
- atomicity: 8 processes move amounts between two keys with a script and
  with MULTI/EXEC while a checker reads both (by script and by MULTI) and
  never sees the sum change;
- WATCH aborts on writes, on expiry and on eviction; EXECABORT; DISCARD;
- databases: Redis.from_url('redis://.../3') keyspaces kept apart (GET,
  KEYS, SCAN, DBSIZE, RANDOMKEY, FLUSHDB, scripts, Lock, transactions);
- scripting bad input: syntax and runtime errors, os.exit, undeclared
  globals, deep recursion, huge replies, and a looping script that other
  clients see as -BUSY until SCRIPT KILL stops it; the server keeps serving.

No assertion depends on how long anything takes: waits are polls on a
state (e.g. "PING answers BUSY"), bounded only by a generous deadline.

Usage: redis_py_test.py <rcached binary>
"""
import multiprocessing as mp
import os
import socket
import sys
import time

import redis
from rtest import DEADLINE_S, free_port, poll, start
from redis.exceptions import (LockError, LockNotOwnedError, NoScriptError,
                              ResponseError, WatchError, ExecAbortError)

PORT = None


def client(**kw):
    return redis.Redis(host="127.0.0.1", port=PORT, **kw)


# ---- workers (run in child processes) --------------------------------------

def lock_worker(port, n):
    global PORT
    PORT = port
    r = client()
    for _ in range(n):
        with r.lock("lk", timeout=30, sleep=0.002, blocking_timeout=DEADLINE_S):
            v = int(r.get("locked_counter") or 0)  # read-modify-write under the lock
            r.set("locked_counter", v + 1)


def watch_worker(port, n):
    global PORT
    PORT = port
    r = client()

    def incr(pipe):
        v = int(pipe.get("wcounter") or 0)
        pipe.multi()
        pipe.set("wcounter", v + 1)

    for _ in range(n):
        r.transaction(incr, "wcounter")


MOVE = """
local a = tonumber(redis.call('GET', KEYS[1]))
local d = tonumber(ARGV[1])
redis.call('SET', KEYS[1], a - d)
redis.call('SET', KEYS[2], tonumber(redis.call('GET', KEYS[2])) + d)
return 1
"""


def mover(port, seed, n):
    global PORT
    PORT = port
    r = client()
    move = r.register_script(MOVE)
    for i in range(n):
        d = (seed * 7 + i) % 13 - 6
        if i % 2:
            move(keys=["acct:a", "acct:b"], args=[d])
        else:
            p = r.pipeline(transaction=True)
            p.decrby("acct:a", d)
            p.incrby("acct:b", d)
            p.execute()


def looper(port):
    global PORT
    PORT = port
    r = client()
    try:
        r.eval("local i = 0 while true do i = i + 1 end", 0)
        return "returned"
    except ResponseError as e:
        return str(e)


# ---- tests ---------------------------------------------------------------

def test_lock():
    r = client()
    r.delete("locked_counter")
    procs = [mp.Process(target=lock_worker, args=(PORT, 30)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    assert int(r.get("locked_counter")) == 120, r.get("locked_counter")

    # acquire, extend, release; a second holder waits; a released lock can
    # not be released again; a lock that timed out is lost to its holder.
    a = r.lock("lk2", timeout=5)
    assert a.acquire(blocking=False)
    b = client().lock("lk2", timeout=5)
    assert not b.acquire(blocking=False)
    assert a.extend(100)
    assert r.pttl("lk2") > 5000
    assert a.reacquire()
    a.release()
    try:
        a.release()
        raise AssertionError("released twice")
    except LockError:
        pass
    assert b.acquire(blocking=False)
    b.release()

    c = r.lock("lk3", timeout=0.05)
    assert c.acquire(blocking=False)
    poll(lambda: not r.exists("lk3"), "the lock to time out")
    d = client().lock("lk3", timeout=10)
    assert d.acquire(blocking=False)
    try:
        c.release()
        raise AssertionError("released a lock someone else holds")
    except LockNotOwnedError:
        pass
    assert d.owned()
    d.release()
    print("ok lock")


def test_watch_contention():
    r = client()
    r.set("wcounter", 0)
    procs = [mp.Process(target=watch_worker, args=(PORT, 50)) for _ in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    assert int(r.get("wcounter")) == 400, r.get("wcounter")
    print("ok watch contention")


def test_watch_aborts():
    r = client()
    r.set("wk", 1)
    other = client()
    # a write by another client
    with r.pipeline() as p:
        p.watch("wk")
        other.set("wk", 2)
        p.multi()
        p.set("wk", 3)
        try:
            p.execute()
            raise AssertionError("EXEC ran after a watched key changed")
        except WatchError:
            pass
    assert r.get("wk") == b"2"
    # expiry
    r.set("wexp", 1)
    with r.pipeline() as p:
        p.watch("wexp")
        other.pexpire("wexp", 1)
        poll(lambda: not other.exists("wexp"), "wexp to expire")
        p.multi()
        p.set("wexp", 3)
        try:
            p.execute()
            raise AssertionError("EXEC ran after a watched key expired")
        except WatchError:
            pass
    # eviction: shrink the item limit under a watched key
    r.set("wev", 1)
    with r.pipeline() as p:
        p.watch("wev")
        items = int(other.config_get("max-items")["max-items"])
        other.config_set("max-items", 1)
        for i in range(50):
            other.set("filler:%d" % i, i)
        poll(lambda: not other.exists("wev"), "wev to be evicted")
        other.config_set("max-items", items)
        p.multi()
        p.set("wev", 3)
        try:
            p.execute()
            raise AssertionError("EXEC ran after a watched key was evicted")
        except WatchError:
            pass
    # unchanged: runs; UNWATCH forgets
    r.set("wk", 1)
    with r.pipeline() as p:
        p.watch("wk")
        p.multi()
        p.incr("wk")
        assert p.execute() == [2]
    with r.pipeline() as p:
        p.watch("wk")
        other.set("wk", 5)
        p.unwatch()
        p.multi()
        p.incr("wk")
        assert p.execute() == [6]
    # EXECABORT after a queued error; DISCARD
    with r.pipeline() as p:
        p.set("x", 1)
        p.execute_command("NOSUCHCOMMAND", "a")
        try:
            p.execute()
            raise AssertionError("EXEC ran despite a queued error")
        except (ExecAbortError, ResponseError) as e:
            assert "EXECABORT" in str(e) or "unknown command" in str(e), e
    raw = client(single_connection_client=True)
    assert raw.execute_command("MULTI") in (b"OK", True, "OK")
    raw.execute_command("SET", "discarded", 1)
    raw.execute_command("DISCARD")
    assert not r.exists("discarded")
    print("ok watch aborts, execabort, discard")


def test_register_script():
    r = client()
    s = r.register_script("return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}")
    r.delete("rs")
    assert s(keys=["rs"], args=["arg"]) == [b"rs", b"arg", 1]
    r.script_flush()
    assert not r.script_exists(s.sha)[0]
    assert s(keys=["rs"], args=["x"]) == [b"rs", b"x", 2]  # NOSCRIPT, then loaded
    assert r.script_exists(s.sha)[0]
    try:
        r.evalsha("0" * 40, 0)
        raise AssertionError("unknown sha ran")
    except NoScriptError:
        pass
    # conversions
    assert r.eval("return {1, 'two', 3.9, true, false, {ok='fine'}, nil, 8}", 0) == \
        [1, b"two", 3, 1, None, b"fine"]
    assert r.eval("return redis.status_reply('DONE')", 0) in (b"DONE", "DONE", True)
    try:
        r.eval("return redis.error_reply('MYERR custom')", 0)
        raise AssertionError("no error")
    except ResponseError as e:
        assert "custom" in str(e)
    assert r.eval("return redis.sha1hex('')", 0) == b"da39a3ee5e6b4b0d3255bfef95601890afd80709"
    assert r.eval("return cjson.decode(ARGV[1]).a", 0, '{"a":"json"}') == b"json"
    r.set("str", "abc")
    assert r.eval("local e = redis.pcall('INCR', KEYS[1]) return e['err']", 1, "str").startswith(b"ERR")
    assert r.eval("return redis.call('GET', KEYS[1])", 1, "missing-key") is None
    try:
        r.execute_command("EVAL_RO", "return redis.call('SET', 'a', 'b')", 0)
        raise AssertionError("write from EVAL_RO")
    except ResponseError as e:
        assert "read-only" in str(e), e
    print("ok register_script and conversions")


def test_pipelined_scripts():
    """Scripts a client pipelines are handed to the script thread together
    (script_thread.c): replies must stay in command order, with other
    commands, errors, MULTI and a half-closed connection in between."""
    r = client()
    r.delete("pl:n")
    incr = r.register_script("return redis.call('INCR', KEYS[1])")
    incr(keys=["pl:warm"])  # loaded, so EVALSHA finds it
    p = r.pipeline(transaction=False)
    expect = []
    for i in range(1, 301):
        p.evalsha(incr.sha, 1, "pl:n")          # script: n = i
        expect.append(i)
        if i % 7 == 0:
            p.get("pl:n")                       # must see the script's write
            expect.append(str(i).encode())
        if i % 11 == 0:
            p.evalsha("f" * 40, 0)             # NOSCRIPT, from the script thread
            expect.append("NOSCRIPT")
        if i % 13 == 0:
            p.execute_command("EVAL", "return 1")  # arity error, answered at once
            expect.append("arity")
        if i % 17 == 0:
            p.set("pl:n", i)                    # a write between scripts
            expect.append(True)
    got = p.execute(raise_on_error=False)
    assert len(got) == len(expect), (len(got), len(expect))
    for k, (g, e) in enumerate(zip(got, expect)):
        if e == "NOSCRIPT":
            assert isinstance(g, NoScriptError), (k, g)
        elif e == "arity":
            assert isinstance(g, ResponseError) and "wrong number" in str(g), (k, g)
        else:
            assert g == e, (k, g, e, got[:40])
    # a transaction after pipelined scripts, and scripts inside it
    p = r.pipeline(transaction=True)
    p.evalsha(incr.sha, 1, "pl:n")
    p.get("pl:n")
    assert p.execute() == [301, b"301"]
    # many scripts then end of input: every reply arrives before the close
    s = socket.create_connection(("127.0.0.1", PORT))
    cmd = b"*4\r\n$7\r\nEVALSHA\r\n$40\r\n" + incr.sha.encode() + \
        b"\r\n$1\r\n1\r\n$4\r\npl:n\r\n"
    s.sendall(cmd * 200 + b"*1\r\n$4\r\nPING\r\n")
    s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    want = b"".join(b":%d\r\n" % n for n in range(302, 502)) + b"+PONG\r\n"
    assert data == want, data[-200:]
    print("ok pipelined scripts")


def checker_reads(r, n):
    check = r.register_script("return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}")
    for i in range(n):
        if i % 2:
            a, b = check(keys=["acct:a", "acct:b"])
        else:
            p = r.pipeline(transaction=True)
            p.get("acct:a")
            p.get("acct:b")
            a, b = p.execute()
        assert int(a) + int(b) == 1000, (a, b)


def test_atomicity():
    r = client()
    r.set("acct:a", 1000)
    r.set("acct:b", 0)
    procs = [mp.Process(target=mover, args=(PORT, i, 150)) for i in range(8)]
    for p in procs:
        p.start()
    reads = 0
    while any(p.is_alive() for p in procs):
        checker_reads(r, 20)
        reads += 20
    for p in procs:
        p.join()
        assert p.exitcode == 0
    checker_reads(r, 2)
    print("ok atomicity (%d checked reads)" % reads)


def test_bad_scripts():
    r = client()
    cases = [
        ("retrun 1", "Error compiling script"),
        ("return nil + 1", "attempt to perform arithmetic"),
        ("os.exit(1)", "attempt to call field 'exit'"),
        ("return io.open('/etc/passwd')", "nonexistent global variable 'io'"),
        ("return loadstring('return 1')()", "nonexistent global variable 'loadstring'"),
        ("return require('os')", "nonexistent global variable 'require'"),
        ("newglobal = 1", "create global variable"),
        ("local function f(n) return f(n + 1) + 1 end return f(1)", "stack overflow"),
        ("local t = {} local c = t for i = 1, 5000 do c[1] = {} c = c[1] end return t",
         "reached lua stack limit"),
        ("return redis.call('MULTI')", "not allowed from script"),
        ("return redis.call('NOSUCH')", "Unknown Redis command"),
        ("return redis.call()", "at least one argument"),
        ("local s = string.rep('x', 1024 * 1024) while true do s = s .. s end",
         "not enough memory"),
    ]
    for src, want in cases:
        try:
            r.eval(src, 0)
            raise AssertionError("no error for " + src)
        except ResponseError as e:
            assert want in str(e), (src, str(e))
    assert len(r.eval("return string.rep('y', 8 * 1024 * 1024)", 0)) == 8 * 1024 * 1024
    assert len(r.eval("local t = {} for i = 1, 200000 do t[i] = i end return t", 0)) == 200000
    try:
        r.execute_command("EVAL", "return 1", -1)
        raise AssertionError("negative numkeys")
    except ResponseError as e:
        assert "negative" in str(e)
    try:
        r.execute_command("EVAL", "return 1", 3, "a")
        raise AssertionError("numkeys > args")
    except ResponseError as e:
        assert "greater" in str(e)
    assert r.ping()
    print("ok bad scripts")


def test_busy_and_kill():
    r = client()
    r.config_set("lua-time-limit", 50)
    try:
        r.script_kill()
        raise AssertionError("SCRIPT KILL with nothing running")
    except ResponseError as e:
        assert "NOTBUSY" in str(e)
    with mp.Pool(1) as pool:
        res = pool.apply_async(looper, (PORT,))
        # other clients (new and old connections) get BUSY once it is slow
        def busy():
            try:
                client().ping()
                return False
            except redis.exceptions.BusyLoadingError:
                return True
            except ResponseError as e:
                return "BUSY" in str(e)
        poll(busy, "PING to answer BUSY")
        for _ in range(4):
            try:
                client().get("x")
                raise AssertionError("GET ran during a busy script")
            except ResponseError as e:
                assert "BUSY" in str(e)
        try:
            r.eval("return 1", 0)
            raise AssertionError("EVAL ran during a busy script")
        except ResponseError as e:
            assert "BUSY" in str(e)
        assert client().script_kill()
        msg = res.get(DEADLINE_S)
        assert "Script killed by user" in msg, msg
    assert r.ping()
    assert r.set("after", 1) and r.get("after") == b"1"
    # a script that wrote cannot be killed
    r.config_set("lua-time-limit", 5000)
    print("ok busy, SCRIPT KILL, server serving")


def test_databases():
    r0 = client()
    r3 = redis.Redis.from_url("redis://127.0.0.1:%d/3" % PORT)
    r5 = redis.Redis.from_url("redis://127.0.0.1:%d/5" % PORT)
    r0.flushall()
    r0.set("k", "zero")
    r3.set("k", "three")
    r3.set("only3", 1, px=100000)
    assert r0.get("k") == b"zero" and r3.get("k") == b"three" and r5.get("k") is None
    assert sorted(r3.keys("*")) == [b"k", b"only3"] and r0.keys("*") == [b"k"]
    assert sorted(r3.scan_iter(match="o*")) == [b"only3"]
    assert r0.dbsize() == 1 and r3.dbsize() == 2 and r5.dbsize() == 0
    assert r3.pttl("only3") > 0 and r0.exists("only3") == 0
    assert r3.randomkey() in (b"k", b"only3") and r5.randomkey() is None
    # scripts, locks and transactions stay in their database
    assert r3.eval("return redis.call('GET', KEYS[1])", 1, "k") == b"three"
    with r3.lock("dblock", timeout=10):
        assert r3.exists("dblock") and not r0.exists("dblock")
    assert not r3.exists("dblock")

    def incr(pipe):
        v = int(pipe.get("n") or 0)
        pipe.multi()
        pipe.set("n", v + 1)
    r3.transaction(incr, "n")
    assert r3.get("n") == b"1" and r0.get("n") is None
    r3.flushdb()
    assert r3.dbsize() == 0 and r0.get("k") == b"zero"
    try:
        client().execute_command("SELECT", 16)
        raise AssertionError("SELECT 16 accepted")
    except ResponseError as e:
        assert "out of range" in str(e)
    r0.flushall()
    print("ok databases")


def main():
    global PORT
    binary = sys.argv[1]
    PORT = free_port()
    srv, _ = start([binary, "--port", str(PORT), "--admin-port", "0",
                    "--threads", "4", "--loglevel", "warning"], PORT)
    try:
        for t in (test_databases, test_register_script, test_pipelined_scripts,
                  test_watch_aborts, test_lock,
                  test_watch_contention, test_atomicity, test_bad_scripts,
                  test_busy_and_kill):
            t0 = time.monotonic()
            t()
            print("  (%s: %.1f s)" % (t.__name__, time.monotonic() - t0))
    finally:
        srv.terminate()
        rc = srv.wait(DEADLINE_S)
    assert rc == 0, "rcached exited with %d" % rc
    print("all ok")


if __name__ == "__main__":
    mp.set_start_method("fork")
    main()
