#!/usr/bin/python3
"""functions_test.py - Redis 7 functions in rcached, driven by redis-py
(Debian python3-redis), with redis-server 7.0 as the oracle when installed:

- FUNCTION LOAD [REPLACE] / LIST [LIBRARYNAME p] [WITHCODE] / DELETE /
  FLUSH / STATS, FCALL and FCALL_RO (keys and args, no-writes, write
  refusal, flags, descriptions), functions in databases and in MULTI,
  functions surviving SCRIPT FLUSH;
- FUNCTION DUMP byte-identical to redis-server's for the same library, and
  payloads restored both ways (redis-server -> rcached -> redis-server),
  RESTORE FLUSH|APPEND|REPLACE and their conflicts, corrupt payloads;
- error replies of bad libraries and bad calls compared text for text
  with redis-server's (a differential run over the same command list);
- a looping function: other clients get BUSY, FUNCTION STATS shows it,
  SCRIPT KILL refuses it, FUNCTION KILL stops it, the server serves on;
- libraries in snapshots (RDB FUNCTION2): kept by SAVE and the shutdown
  snapshot across restarts, redis-server loads our file and we load its.

No assertion depends on time: waits poll a state with a generous deadline.

Usage: functions_test.py <rcached binary>
"""
import multiprocessing as mp
import os
import shutil
import sys
import tempfile

import redis
from redis.exceptions import ResponseError

from rtest import DEADLINE_S, free_port, poll, start


LIB1 = """#!lua name=lib1
redis.register_function('echo', function(keys, args) return {keys[1], args[1], #keys, #args} end)
redis.register_function{function_name='getter', callback=function(keys, args)
  return redis.call('GET', keys[1]) end, flags={'no-writes'}, description='reads a key'}
redis.register_function{function_name='setter', callback=function(keys, args)
  return redis.call('SET', keys[1], args[1]) end,
  flags={'allow-oom', 'allow-stale', 'no-cluster', 'allow-cross-slot-keys'}}
redis.register_function{function_name='ro_writer', callback=function(keys, args)
  return redis.call('SET', 'x', 'y') end, flags={'no-writes'}}
"""

LIB2 = """#!lua name=lib2
redis.register_function('two', function() return 2 end)
"""

LOOP = """#!lua name=looplib
redis.register_function{function_name='spin', callback=function()
  local i = 0 while true do i = i + 1 end end, flags={'no-writes'}}
"""

# Commands whose replies (errors included) must be the same on both servers.
DIFF_CASES = [
    ("FUNCTION", "LOAD", "return 1"),
    ("FUNCTION", "LOAD", "#!lua"),
    ("FUNCTION", "LOAD", "#!lua\n"),
    ("FUNCTION", "LOAD", "#!foo name=x\n"),
    ("FUNCTION", "LOAD", "#!lua name=x foo=bar\n"),
    ("FUNCTION", "LOAD", "#!lua name=x name=y\n"),
    ("FUNCTION", "LOAD", "#!lua name=a-b\nx"),
    ("FUNCTION", "LOAD", "#!lua name=x\nreturn 1"),
    ("FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('f-1', function() end)"),
    ("FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('f', function() end)\n"
                         "redis.register_function('f', function() end)"),
    ("FUNCTION", "LOAD", "#!lua name=x\nredis.call('set','a','b')"),
    ("FUNCTION", "LOAD", "#!lua name=x\nfoo = 1"),
    ("FUNCTION", "LOAD", "#!lua name=x\nsyntax error here"),
    ("FUNCTION", "LOAD", "#!lua name=x\nredis.register_function{function_name='f', "
                         "callback=function() end, flags={'bogus'}}"),
    ("FUNCTION", "LOAD", "#!lua name=x\nredis.register_function{function_name='f', "
                         "callback=function() end, flags='no-writes'}"),
    ("FUNCTION", "LOAD", "#!lua name=x\nredis.register_function{function_name='f', "
                         "callback=function() end, foo=1}"),
    ("FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('f')"),
    ("FUNCTION", "LOAD", "#!lua name=x\nredis.register_function({}, function() end)"),
    ("FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('f', 1)"),
    ("FUNCTION", "LOAD", "#!lua name=x\nredis.register_function({})"),
    ("FUNCTION", "LOAD", "#!lua name=x\nredis.register_function{function_name='f'}"),
    ("FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('f', function() end, 1)"),
    ("FUNCTION", "LOAD", "#!lua name=x\nwhile true do end"),
    ("FUNCTION", "LOAD", "#!lua name=x\nlocal t = string"),
    ("FUNCTION", "LOAD", "#!lua name=x\nlocal t = redis.setresp"),
    ("FUNCTION", "LOAD", LIB1),
    ("FUNCTION", "LOAD", LIB1),
    ("FUNCTION", "LOAD", "#!lua name=other\nredis.register_function('echo', function() end)"),
    ("FCALL", "echo", "1", "k", "a", "b"),
    ("FCALL", "nosuch", "0"),
    ("FCALL", "echo", "3", "a"),
    ("FCALL", "echo", "-1"),
    ("FCALL", "echo", "x"),
    ("FCALL_RO", "setter", "1", "k", "v"),
    ("FCALL_RO", "echo", "0"),
    ("FCALL", "setter", "1", "fk", "v"),
    ("FCALL_RO", "getter", "1", "fk"),
    ("FCALL", "ro_writer", "0"),
    ("FUNCTION", "LIST", "LIBRARYNAME", "LIB1*", "WITHCODE"),
    ("FUNCTION", "LIST", "foo"),
    ("FUNCTION", "LIST", "LIBRARYNAME"),
    ("FUNCTION", "DELETE", "nosuch"),
    ("FUNCTION", "RESTORE", "bad"),
    ("FUNCTION", "RESTORE", "x", "foo"),
    ("FUNCTION", "KILL"),
    ("FUNCTION", "NOSUCH"),
    ("FUNCTION", "DELETE", "lib1"),
    ("FCALL", "echo", "0"),
]


def expect_error(fn, want):
    try:
        fn()
    except ResponseError as e:
        assert want in str(e), (want, str(e))
        return
    raise AssertionError("no error, wanted " + want)


def reply(r, cmd):
    try:
        v = r.execute_command(*cmd)
    except ResponseError as e:
        return ("error", str(e))
    if isinstance(v, list) and cmd[:2] == ("FUNCTION", "LIST"):
        # libraries and their functions come in hash order in Redis
        libs = [l[:5] + [sorted(l[5], key=repr)] + l[6:] for l in v]
        return ("list", repr(sorted(repr(x) for x in libs)))
    return ("ok", repr(v))


def test_basics(r):
    r.function_flush()
    assert r.function_load(LIB1) == b"lib1"
    assert r.function_load(LIB2) == b"lib2"
    assert r.fcall("echo", 2, "k1", "k2", "a") == [b"k1", b"a", 2, 1]
    assert r.fcall("setter", 1, "fk", "v1") in (True, b"OK")
    assert r.fcall_ro("getter", 1, "fk") == b"v1"
    expect_error(lambda: r.fcall_ro("setter", 1, "fk", "v"), "Can not execute a script with write flag")
    expect_error(lambda: r.fcall("ro_writer", 0), "Write commands are not allowed from read-only scripts")
    assert r.get("x") is None
    libs = {l[1]: l for l in r.function_list()}
    assert set(libs) == {b"lib1", b"lib2"}
    fns = {f[1]: f for f in libs[b"lib1"][5]}
    assert fns[b"getter"] == [b"name", b"getter", b"description", b"reads a key",
                              b"flags", [b"no-writes"]]
    assert fns[b"setter"][5] == [b"allow-oom", b"allow-stale", b"no-cluster",
                                 b"allow-cross-slot-keys"]
    assert fns[b"echo"][3] is None
    only = r.function_list(library="LIB2", withcode=True)
    assert len(only) == 1 and only[0][1] == b"lib2" and only[0][7] == LIB2.encode()
    stats = r.execute_command("FUNCTION", "STATS")
    assert stats[0] == b"running_script" and stats[1] is None
    assert stats[3] == [b"LUA", [b"libraries_count", 2, b"functions_count", 5]]
    # REPLACE: the new code wins, a failed replace keeps the old library
    expect_error(lambda: r.function_load(LIB2), "Library 'lib2' already exists")
    r.function_load(LIB2.replace("return 2", "return 22"), replace=True)
    assert r.fcall("two", 0) == 22
    expect_error(lambda: r.function_load(LIB2 + "syntax error", replace=True),
                 "Error compiling function")
    assert r.fcall("two", 0) == 22
    # functions live apart from EVAL's scripts
    r.script_flush()
    assert r.fcall("two", 0) == 22
    # databases: keys go to the client's database
    r3 = redis.Redis(host="127.0.0.1", port=r.connection_pool.connection_kwargs["port"], db=3)
    r3.fcall("setter", 1, "dbkey", "in3")
    assert r3.get("dbkey") == b"in3" and r.get("dbkey") is None
    # in a transaction
    p = r.pipeline(transaction=True)
    p.fcall("setter", 1, "tk", "tv")
    p.fcall_ro("getter", 1, "tk")
    assert p.execute() == [b"OK", b"tv"]
    assert r.function_delete("lib2") in (True, b"OK")
    expect_error(lambda: r.fcall("two", 0), "Function not found")
    expect_error(lambda: r.function_delete("lib2"), "Library not found")
    assert r.function_flush() in (True, b"OK")
    assert r.function_list() == []
    print("ok basics")


def test_dump_restore(r, oracle):
    r.function_flush()
    r.function_load(LIB1)
    r.function_load(LIB2)
    payload = r.function_dump()
    expect_error(lambda: r.function_restore(payload), "already exists")
    assert r.function_restore(payload, "REPLACE") in (True, b"OK")
    r.function_flush()
    assert r.function_restore(payload) in (True, b"OK")
    assert r.fcall("two", 0) == 2
    r.function_delete("lib2")
    r.function_load("#!lua name=other\nredis.register_function('keep', function() return 7 end)")
    assert r.function_restore(payload, "FLUSH") in (True, b"OK")
    assert sorted(l[1] for l in r.function_list()) == [b"lib1", b"lib2"]
    expect_error(lambda: r.function_restore(payload[:-1] + bytes([payload[-1] ^ 0xff])), "checksum are wrong")
    expect_error(lambda: r.function_restore(b"\x00" * 4), "checksum are wrong")
    assert sorted(l[1] for l in r.function_list()) == [b"lib1", b"lib2"]
    if oracle is None:
        print("ok dump/restore (no redis-server: cross-checks skipped)")
        return
    # the same single library dumps to the same bytes (LZF-compressed code)
    for srv in (r, oracle):
        srv.function_flush()
        srv.function_load(LIB1)
    assert r.function_dump() == oracle.function_dump()
    # payloads move both ways
    oracle.function_load(LIB2)
    r.function_flush()
    assert r.function_restore(oracle.function_dump()) in (True, b"OK")
    assert r.fcall("two", 0) == 2 and r.fcall_ro("getter", 1, "nokey") is None
    oracle.function_flush()
    assert oracle.function_restore(r.function_dump()) in (True, b"OK")
    assert oracle.fcall("two", 0) == 2
    print("ok dump/restore (byte-identical to redis-server, both ways)")


def test_differential(r, oracle):
    if oracle is None:
        print("skipped differential: no redis-server")
        return
    for srv in (r, oracle):
        srv.function_flush()
        srv.delete("fk", "k", "x")
    bad = []
    for cmd in DIFF_CASES:
        a, b = reply(r, cmd), reply(oracle, cmd)
        if a != b:
            bad.append((cmd, a, b))
    for cmd, a, b in bad:
        print("DIFF", cmd, "\n  rcached:", a, "\n  redis:  ", b)
    assert not bad, "%d replies differ from redis-server's" % len(bad)
    print("ok differential (%d commands)" % len(DIFF_CASES))


def spinner(port):
    r = redis.Redis(host="127.0.0.1", port=port)
    try:
        r.fcall("spin", 0)
        return "returned"
    except ResponseError as e:
        return str(e)


def test_kill(r, port):
    r.function_flush()
    r.function_load(LOOP)
    r.config_set("lua-time-limit", 50)
    expect_error(lambda: r.execute_command("FUNCTION", "KILL"), "NOTBUSY")
    with mp.Pool(1) as pool:
        res = pool.apply_async(spinner, (port,))

        def busy():
            try:
                redis.Redis(host="127.0.0.1", port=port).ping()
                return False
            except ResponseError as e:
                return "BUSY" in str(e)
        poll(busy, "PING to answer BUSY")
        stats = r.execute_command("FUNCTION", "STATS")
        assert stats[1][:2] == [b"name", b"spin"], stats
        expect_error(lambda: r.script_kill(), "FUNCTION KILL")
        assert r.execute_command("FUNCTION", "KILL") in (True, b"OK")
        msg = res.get(DEADLINE_S)
        assert "Script killed" in msg, msg
    assert r.ping()
    assert r.execute_command("FUNCTION", "STATS")[1] is None
    print("ok busy function, FUNCTION KILL")


SNAP_LIB = ("#!lua name=snaplib\nredis.register_function{function_name='snapf', "
            "callback=function(k, a) return 'kept' end, flags={'no-writes'}, "
            "description='d'}\n")
REDIS_LIB = ("#!lua name=rlib\n"
             "redis.register_function('rf', function(k, a) return 'from redis' end)\n")


def stop(p):
    p.terminate()
    assert p.wait(DEADLINE_S) == 0, "exit status %s" % p.returncode


def test_snapshot(binary, tmp):
    """Function libraries in snapshots (RDB FUNCTION2, as Redis 7.0): kept
    by SAVE and by the shutdown snapshot across restarts; redis-server
    loads our file; we load redis-server's."""
    ours, theirs = os.path.join(tmp, "ours"), os.path.join(tmp, "theirs")
    os.makedirs(ours)
    os.makedirs(theirs)
    running = []

    def server(argv, d):
        port = free_port()
        p, r = start(argv + ["--port", str(port), "--dir", d, "--loglevel", "warning"], port)
        running.append(p)
        return p, r

    def rcached(d):
        return server([binary, "--admin-port", "0"], d)

    def redis_server(d):
        return server(["redis-server", "--save", "", "--appendonly", "no"], d)

    try:
        p, r = rcached(ours)
        r.function_load(SNAP_LIB)
        r.set("k", "v")
        assert r.save()
        listing = r.function_list()
        stop(p)  # the shutdown snapshot is written again: it must keep them too
        p, r = rcached(ours)
        assert r.fcall("snapf", 0) == b"kept"
        assert r.function_list() == listing, (r.function_list(), listing)
        r.function_flush()
        assert r.save()
        stop(p)
        p, r = rcached(ours)  # a flushed library stays gone
        assert r.function_list() == []
        r.function_load(SNAP_LIB)
        stop(p)
        if not shutil.which("redis-server"):
            print("  snapshot: redis-server missing, cross-loading skipped")
            return
        p, s = redis_server(ours)
        assert s.fcall("snapf", 0) == b"kept"
        assert s.get("k") == b"v"
        stop(p)
        p, s = redis_server(theirs)
        s.function_load(REDIS_LIB)
        s.set("rk", "rv")
        assert s.save()
        stop(p)
        p, r = rcached(theirs)
        assert r.fcall("rf", 0) == b"from redis"
        assert r.get("rk") == b"rv"
        stop(p)
    finally:
        for p in running:
            if p.poll() is None:
                p.kill()
                p.wait(DEADLINE_S)
    print("  snapshot: libraries kept across restarts, loaded by redis-server and from it")


def main():
    binary = sys.argv[1]
    port = free_port()
    procs = []
    tmp = tempfile.mkdtemp()
    try:
        p, r = start([binary, "--port", str(port), "--admin-port", "0", "--threads", "2",
                      "--loglevel", "warning"], port)
        procs.append(p)
        oracle = None
        if shutil.which("redis-server"):
            oport = free_port()
            p, oracle = start(["redis-server", "--port", str(oport), "--save", "",
                               "--appendonly", "no", "--dir", tmp,
                               "--loglevel", "warning"], oport)
            procs.append(p)
        test_basics(r)
        test_dump_restore(r, oracle)
        test_differential(r, oracle)
        test_kill(r, port)
        test_snapshot(binary, tmp)
    finally:
        for p in procs:
            p.terminate()
            p.wait(DEADLINE_S)
        shutil.rmtree(tmp, ignore_errors=True)
    # rcached stops cleanly (a sanitizer finding would make it fail)
    assert procs[0].returncode == 0, "rcached exit status %s" % procs[0].returncode
    print("functions_test: all passed")


if __name__ == "__main__":
    mp.set_start_method("fork")
    main()
