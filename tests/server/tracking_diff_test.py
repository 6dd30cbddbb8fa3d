#!/usr/bin/python3
"""tracking_diff_test.py - CLIENT TRACKING (server-assisted client-side
caching) in rcached against redis-server 7.0 as the oracle, byte for byte,
plus redis-py as a real RESP2 client using REDIRECT through Pub/Sub.

Each scenario runs the same steps on both servers over raw sockets
(resp3_diff_test.Conn reads whole frames) and compares every reply and
every invalidation: RESP3 push frames on the tracking connection, RESP2
__redis__:invalidate messages on a REDIRECT target, the flush null of
FLUSHALL/FLUSHDB, default mode (first change only, keys in other
databases share names), NOLOOP, OPTIN/OPTOUT with CLIENT CACHING, BCAST
with prefixes, a broken redirection (tracking-redir-broken), expiry
(PEXPIRE-free: a key set with a TTL expires while tracked; waited for with
a deadline), CLIENT TRACKINGINFO / GETREDIR and the argument errors.
Client ids differ between the servers: a step can build its command per
server, and ids in replies are normalised.

rcached only (Redis's eviction of the tracking table runs on its own
schedule): tracking-table-max-keys invalidates keys to stay under the
limit, SWAPDB sends the flush null (a deliberate difference), two writers
on other workers racing a tracking reader never leave it a stale value,
the admin API's DELETE and invalidation reach tracking clients, and a receiver that never reads is disconnected at the pub/sub
output-buffer limit while the writer keeps going.

Usage: tracking_diff_test.py <rcached binary>
"""
import os
import re
import shutil
import socket
import sys

from resp3_diff_test import Conn, start
from rtest import DEADLINE_S, free_port, poll

COMPARED = [0]


def norm(rep):
    rep = re.sub(rb"tracking-redir-broken\r\n:\d+", rb"tracking-redir-broken\r\n:ID", rep)
    return rep


class Side:
    """One server's connections, by name."""

    def __init__(self, port):
        self.port = port
        self.c = {}
        self.ids = {}

    def conn(self, name, proto=2):
        c = Conn(self.port)
        if proto == 3:
            assert c.run("hello", "3").startswith(b"%")
        self.c[name] = c
        self.ids[name] = int(c.run("client", "id")[1:-2])
        return c


def step(sides, name, *cmd, n=1, label=""):
    """Send cmd (items may be callables of the Side: per-server ids) on
    connection `name` of both servers; compare the n frames read back."""
    out = []
    for s in sides:
        args = [a(s) if callable(a) else a for a in cmd]
        c = s.c[name]
        if args:
            c.send(*args)
        rep = b"".join(norm(c.reply()) for _ in range(n))
        if args[:2] in (["client", "getredir"], ["client", "trackinginfo"]):
            for i in s.ids.values():  # the redirect id: per server
                rep = rep.replace(b":%d\r\n" % i, b":ID\r\n")
        out.append(rep)
    if out[0] != out[1] and os.environ.get("TRACKING_ALL"):
        print("DIFF %s %r\n  rcached %r\n  redis   %r" % (label, cmd, out[0], out[1]))
    else:
        assert out[0] == out[1], "%s %r\n  rcached %r\n  redis   %r" % (label, cmd, out[0],
                                                                       out[1])
    COMPARED[0] += 1
    return out[0]


def expect(sides, name, frame, label=""):
    """The next frame on `name` (an invalidation) is frame on both."""
    got = step(sides, name, label=label)
    assert got == frame, "%s: expected %r, got %r" % (label, frame, got)


def quiet(sides, name):
    """Nothing pending on `name`: a PING's PONG is the next frame."""
    got = step(sides, name, "ping", label="quiet")
    assert got in (b"+PONG\r\n", b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"), got


def push(*keys):
    out = b">2\r\n$10\r\ninvalidate\r\n*%d\r\n" % len(keys)
    return out + b"".join(b"$%d\r\n%s\r\n" % (len(k), k) for k in keys)


def msg(payload):
    return b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n" + payload


def keys_payload(*keys):
    return b"*%d\r\n" % len(keys) + b"".join(b"$%d\r\n%s\r\n" % (len(k), k) for k in keys)


def fresh(ports):
    sides = [Side(p) for p in ports]
    for s in sides:
        w = s.conn("w")
        assert w.run("flushall") == b"+OK\r\n"
    return sides


def close(sides):
    for s in sides:
        for c in s.c.values():
            c.close()


def test_errors(ports):
    sides = fresh(ports)
    for s in sides:
        s.conn("t", 3)
    bad_id = lambda s: str(max(s.ids.values()) + 1000)  # noqa: E731
    for cmd in [
        ("client", "getredir"), ("client", "trackinginfo"),
        ("client", "caching", "yes"), ("client", "caching"), ("client", "tracking"),
        ("client", "getredir", "x"), ("client", "trackinginfo", "x"),
        ("client", "tracking", "maybe"), ("client", "tracking", "on", "bogus"),
        ("client", "tracking", "on", "prefix", "a"),
        ("client", "tracking", "on", "optin", "optout"),
        ("client", "tracking", "on", "bcast", "optin"),
        ("client", "tracking", "on", "redirect", "x"),
        ("client", "tracking", "on", "redirect", bad_id),
        ("client", "tracking", "on", "redirect", "0"),
        ("client", "tracking", "on", "redirect", lambda s: str(s.ids["w"]), "redirect",
         lambda s: str(s.ids["w"])),
        ("client", "tracking", "on", "bcast", "prefix", "ab", "prefix", "a"),
        ("client", "tracking", "on", "bcast", "prefix", "a", "prefix", "b"),
        ("client", "trackinginfo"), ("client", "getredir"),
        ("client", "tracking", "on", "bcast", "prefix", "bc"),
        ("client", "tracking", "on", "bcast", "prefix", "c"),
        ("client", "trackinginfo"),
        ("client", "tracking", "on"),
        ("client", "tracking", "on", "bcast", "optout"),
        ("client", "caching", "yes"),
        ("client", "tracking", "off"), ("client", "trackinginfo"),
        ("client", "tracking", "on", "optin"), ("client", "caching", "no"),
        ("client", "caching", "maybe"), ("client", "caching", "yes"),
        ("client", "trackinginfo"),
        ("client", "tracking", "on", "optout"),
        ("client", "tracking", "off"), ("client", "tracking", "on", "optout", "noloop"),
        ("client", "caching", "no"), ("client", "trackinginfo"),
        ("client", "trackinginfo"),  # CACHING lasted one command... CLIENT keeps it
        ("get", "x"), ("client", "trackinginfo"),
        ("client", "tracking", "off"), ("client", "getredir"),
    ]:
        step(sides, "t", *cmd, label="errors")
    for s in sides:
        s.c["t"].run("hello", "2")
    step(sides, "t", "client", "trackinginfo", label="trackinginfo resp2")
    close(sides)


def test_resp3_default(ports):
    sides = fresh(ports)
    for s in sides:
        s.conn("t", 3)
    step(sides, "t", "client", "tracking", "on")
    step(sides, "t", "get", "k")
    step(sides, "t", "mget", "a", "b", "c")
    step(sides, "w", "set", "k", "1")
    expect(sides, "t", push(b"k"), "other client's SET")
    step(sides, "w", "set", "k", "2")  # forgotten after the first change
    quiet(sides, "t")
    step(sides, "w", "mset", "a", "1", "b", "2")
    expect(sides, "t", push(b"a"), "MSET a")
    expect(sides, "t", push(b"b"), "MSET b")
    step(sides, "w", "select", "3")
    step(sides, "w", "incr", "c")  # another database: the same name
    expect(sides, "t", push(b"c"), "INCR c in db 3")
    step(sides, "w", "select", "0")
    # own write without NOLOOP: the reply, then the invalidation
    step(sides, "t", "get", "k")
    step(sides, "t", "set", "k", "mine")
    expect(sides, "t", push(b"k"), "own SET")
    # other write commands
    step(sides, "t", "get", "k")
    step(sides, "t", "strlen", "n")
    step(sides, "w", "append", "k", "x")
    expect(sides, "t", push(b"k"), "APPEND")
    step(sides, "w", "set", "n", "5")
    expect(sides, "t", push(b"n"), "SET n")
    step(sides, "t", "get", "k")
    step(sides, "w", "rename", "k", "k2")
    expect(sides, "t", push(b"k"), "RENAME source")
    step(sides, "t", "exists", "k2")
    step(sides, "w", "del", "k2")
    expect(sides, "t", push(b"k2"), "DEL")
    step(sides, "t", "get", "k")
    step(sides, "t", "get", "n")
    step(sides, "w", "flushall")
    expect(sides, "t", b">2\r\n$10\r\ninvalidate\r\n_\r\n", "FLUSHALL null")
    step(sides, "w", "set", "k", "1")  # the flush forgot every key
    quiet(sides, "t")
    step(sides, "t", "get", "k")
    step(sides, "w", "flushdb")
    expect(sides, "t", b">2\r\n$10\r\ninvalidate\r\n_\r\n", "FLUSHDB null")
    step(sides, "t", "client", "tracking", "off")
    step(sides, "t", "get", "k")
    step(sides, "w", "set", "k", "1")
    quiet(sides, "t")
    close(sides)


def test_noloop_optin_optout(ports):
    sides = fresh(ports)
    for s in sides:
        s.conn("t", 3)
    step(sides, "t", "client", "tracking", "on", "noloop")
    step(sides, "t", "get", "k")
    step(sides, "t", "set", "k", "mine")
    quiet(sides, "t")  # NOLOOP: not for its own write (which forgets the key)
    step(sides, "w", "set", "k", "other")
    quiet(sides, "t")
    step(sides, "t", "get", "k")
    step(sides, "w", "set", "k", "other2")
    expect(sides, "t", push(b"k"), "NOLOOP, other's write")
    step(sides, "t", "client", "tracking", "off")
    step(sides, "t", "client", "tracking", "on", "optin")
    step(sides, "t", "get", "a")  # not tracked
    step(sides, "t", "client", "caching", "yes")
    step(sides, "t", "get", "b")  # tracked
    step(sides, "t", "get", "c")  # CACHING lasted one command
    step(sides, "w", "mset", "a", "1", "b", "1", "c", "1")
    expect(sides, "t", push(b"b"), "OPTIN")
    quiet(sides, "t")
    # CACHING YES before MULTI covers the transaction's reads
    step(sides, "t", "client", "caching", "yes")
    step(sides, "t", "multi")
    step(sides, "t", "get", "a")
    step(sides, "t", "get", "c")
    step(sides, "t", "exec")
    step(sides, "t", "get", "b")
    step(sides, "w", "mset", "a", "2", "b", "2", "c", "2")
    expect(sides, "t", push(b"a"), "OPTIN MULTI a")
    expect(sides, "t", push(b"c"), "OPTIN MULTI c")
    quiet(sides, "t")
    step(sides, "t", "client", "tracking", "off")
    step(sides, "t", "client", "tracking", "on", "optout")
    step(sides, "t", "client", "caching", "no")
    step(sides, "t", "get", "a")  # not tracked
    step(sides, "t", "get", "b")  # tracked
    step(sides, "w", "mset", "a", "3", "b", "3")
    expect(sides, "t", push(b"b"), "OPTOUT")
    quiet(sides, "t")
    close(sides)


def test_resp2_redirect(ports):
    sides = fresh(ports)
    for s in sides:
        s.conn("r")
        s.conn("t")
        s.conn("t3", 3)
    step(sides, "r", "subscribe", "__redis__:invalidate")
    step(sides, "t", "client", "tracking", "on", "redirect", lambda s: str(s.ids["r"]))
    step(sides, "t", "client", "getredir")
    step(sides, "t3", "client", "tracking", "on", "redirect", lambda s: str(s.ids["r"]))
    step(sides, "t", "get", "k")
    step(sides, "w", "set", "k", "v")
    expect(sides, "r", msg(keys_payload(b"k")), "RESP2 redirect")
    step(sides, "t", "set", "k", "own")  # own write: still to the redirect target
    quiet(sides, "t")
    step(sides, "t3", "get", "j")
    step(sides, "w", "set", "j", "v")
    expect(sides, "r", msg(keys_payload(b"j")), "RESP3 client redirecting to RESP2")
    step(sides, "w", "flushall")
    # the null follows the tracking client's protocol (Redis's shared.null[c->resp])
    frames = {step(sides, "r", label="flush a"), step(sides, "r", label="flush b")}
    assert frames == {msg(b"$-1\r\n"), msg(b"_\r\n")}, frames
    # the redirect target goes: RESP3 tracking client hears of it
    for s in sides:
        s.c["r"].close()
        del s.c["r"]

    def gone(s):
        return lambda: b"id=%d " % s.ids["r"] not in s.c["w"].run("client", "list")
    for s in sides:
        poll(gone(s), "the redirect target to go")
    step(sides, "t3", "get", "j")
    step(sides, "t", "get", "j")
    step(sides, "w", "set", "j", "x")
    expect(sides, "t3", b">2\r\n$21\r\ntracking-redir-broken\r\n:ID\r\n", "redir broken")
    step(sides, "t3", "client", "trackinginfo")
    quiet(sides, "t")
    for s in sides:
        line = s.c["t3"].run("client", "info")
        assert b" flags=tR " in line and b" redir=%d " % s.ids["r"] in line, line
    close(sides)


def test_bcast(ports):
    sides = fresh(ports)
    for s in sides:
        s.conn("t", 3)
        s.conn("all", 3)
        s.conn("r")
        s.conn("b2")
    step(sides, "t", "client", "tracking", "on", "bcast", "prefix", "user:", "prefix", "obj:",
         "noloop")
    step(sides, "t", "client", "trackinginfo")
    step(sides, "all", "client", "tracking", "on", "bcast")
    step(sides, "r", "subscribe", "__redis__:invalidate")
    step(sides, "b2", "client", "tracking", "on", "bcast", "prefix", "obj:", "redirect",
         lambda s: str(s.ids["r"]))
    for s in sides:
        info = s.c["w"].run("info", "stats")
        assert b"tracking_total_prefixes:3\r\n" in info, info
        line = s.c["t"].run("client", "info")
        assert b" flags=tB " in line and b" redir=0 " in line, line
    step(sides, "w", "set", "user:1", "x")
    expect(sides, "t", push(b"user:1"), "BCAST user:")
    expect(sides, "all", push(b"user:1"), "BCAST all")
    step(sides, "w", "set", "other", "x")
    expect(sides, "all", push(b"other"), "BCAST all, other")
    step(sides, "w", "set", "obj:7", "x")
    expect(sides, "t", push(b"obj:7"), "BCAST obj:")
    expect(sides, "all", push(b"obj:7"), "BCAST all, obj")
    expect(sides, "r", msg(keys_payload(b"obj:7")), "BCAST redirected")
    step(sides, "t", "set", "user:2", "own")  # NOLOOP
    expect(sides, "all", push(b"user:2"), "BCAST all, user:2")
    quiet(sides, "t")
    step(sides, "w", "set", "user:2", "again")  # BCAST: every change, not only the first
    expect(sides, "t", push(b"user:2"), "BCAST again")
    expect(sides, "all", push(b"user:2"), "BCAST all again")
    quiet(sides, "t")
    quiet(sides, "all")
    close(sides)


def test_expiry(ports):
    """A key set with a TTL, read while alive, expires: an invalidation."""
    sides = fresh(ports)
    for s in sides:
        s.conn("t", 3)
        s.c["t"].run("client", "tracking", "on")
    for s in sides:
        ttl = 300
        for attempt in range(12):
            key = "e%d" % attempt
            s.c["w"].run("set", key, "v", "px", str(ttl))
            if s.c["t"].run("get", key) == b"$1\r\nv\r\n":
                break
            ttl *= 2  # expired before the read (a loaded machine): longer
        else:
            raise AssertionError("could not read a key before it expired")
        got = s.c["t"].reply()  # the deadline is Conn's socket timeout
        assert got == push(key.encode()), got
        COMPARED[0] += 1
    close(sides)


def test_rcached_only(port):
    """tracking-table-max-keys, and a receiver that never reads."""
    s = Side(port)
    w = s.conn("w")
    t = s.conn("t", 3)
    assert w.run("config", "set", "tracking-table-max-keys", "2") == b"+OK\r\n"
    assert w.run("config", "get", "tracking-table-max-keys") == (
        b"*2\r\n$23\r\ntracking-table-max-keys\r\n$1\r\n2\r\n")
    t.run("client", "tracking", "on")
    for k in ("k1", "k2", "k3"):
        t.run("get", k)
    got = t.reply()  # one key invalidated to stay at 2
    assert got in (push(b"k1"), push(b"k2"), push(b"k3")), got
    info = w.run("info", "stats")
    assert b"tracking_total_keys:2\r\ntracking_total_items:2\r\n" in info, info
    assert b"tracking_clients:1\r\n" in w.run("info", "clients")
    assert w.run("config", "set", "tracking-table-max-keys", "0") == b"+OK\r\n"
    # SWAPDB: rcached sends the flush null (Redis 7.0 sends nothing)
    assert w.run("swapdb", "0", "1") == b"+OK\r\n"
    got = t.reply()
    assert got == b">2\r\n$10\r\ninvalidate\r\n_\r\n", got
    assert b"tracking_total_keys:0\r\n" in w.run("info", "stats")
    # A BCAST receiver that never reads: closed at the pub/sub limit, the
    # writer is never blocked.
    assert w.run("config", "set", "client-output-buffer-limit",
                 "pubsub 1mb 0 0") == b"+OK\r\n"
    slow = socket.create_connection(("127.0.0.1", port))
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sendall(b"HELLO 3\r\nCLIENT TRACKING on BCAST\r\n")
    poll(lambda: b"flags=tB" in w.run("client", "list"), "the slow client to track")
    big = "k" * 4000
    for i in range(2000):  # 8 MB of invalidations, 1 MB allowed
        assert w.run("set", "%s%d" % (big, i), "v") == b"+OK\r\n"
    poll(lambda: b"tracking_clients:1\r\n" in w.run("info", "clients"),
         "the slow receiver to be disconnected")
    slow.close()
    t.close()
    w.close()


def test_race(port):
    """rcached only (worker threads): a tracking client reading a key while
    two writers on other connections INCR it never keeps a stale value
    without an invalidation after it. The client caches as a real one
    does: a reply sets the value, an invalidation drops it; after the
    writers stop, a sentinel key's invalidation (sent after theirs by the
    last writer, one FIFO per receiver) marks the end of what is due."""
    import threading
    s = Side(port)
    s.conn("w")
    t = s.conn("t", 3)
    t.run("client", "tracking", "on")
    t.run("get", "sentinel")
    writers = [Conn(port) for _ in range(2)]

    def write(c):
        for _ in range(1500):
            assert c.run("incr", "ctr").startswith(b":")
    threads = [threading.Thread(target=write, args=(c,)) for c in writers]
    for th in threads:
        th.start()
    cached = None
    inval = push(b"ctr")
    while any(th.is_alive() for th in threads):
        t.send("get", "ctr")
        while True:
            f = t.reply()
            if f == inval:
                cached = None
            elif f.startswith(b"$") or f == b"_\r\n":
                cached = f
                break
            else:
                raise AssertionError("unexpected frame %r" % f)
    for th in threads:
        th.join()
    writers[0].run("set", "sentinel", "x")
    while True:
        f = t.reply()
        if f == push(b"sentinel"):
            break
        assert f == inval, f
        cached = None
    final = s.c["w"].run("get", "ctr")
    assert cached is None or cached == final, (cached, final)
    assert final == b"$4\r\n3000\r\n", final
    for c in writers:
        c.close()
    t.close()
    s.c["w"].close()
    COMPARED[0] += 1


def test_admin(binary):
    """rcached only: the admin API's writes reach tracking clients: an
    entry's DELETE sends its key (database 3: the name without the
    database), a pattern invalidation and a clear send the flush null."""
    import urllib.request
    port, aport = free_port(), free_port()
    srv = start([binary, "--port", str(port), "--admin-port", str(aport), "--admin-token",
                 "t0ken", "--loglevel", "warning"], port)
    try:
        s = Side(port)
        w = s.conn("w")
        t = s.conn("t", 3)
        t.run("client", "tracking", "on")
        assert w.run("select", "3") == b"+OK\r\n"
        assert w.run("set", "user:1", "x") == b"+OK\r\n"
        t.run("get", "user:1")

        def admin(method, path, body=None):
            req = urllib.request.Request(
                "http://127.0.0.1:%d%s" % (aport, path), method=method,
                data=body, headers={"Authorization": "Bearer t0ken",
                                    "Content-Type": "application/json"})
            return urllib.request.urlopen(req, timeout=DEADLINE_S).status
        assert admin("DELETE", "/api/cache/entries/user:1?db=3") == 200
        got = t.reply()
        assert got == push(b"user:1"), got
        assert admin("POST", "/api/cache/invalidate", b'{"pattern": "user:*"}') == 200
        got = t.reply()
        assert got == b">2\r\n$10\r\ninvalidate\r\n_\r\n", got
        COMPARED[0] += 2
        for c in s.c.values():
            c.close()
    finally:
        srv.terminate()
        assert srv.wait(DEADLINE_S) == 0


def test_redis_py(ports):
    """redis-py (a client no one here wrote): RESP2 tracking redirected to
    its Pub/Sub connection, the way its client-side caching helpers do."""
    import redis
    for port in ports:
        r = redis.Redis(port=port, single_connection_client=True)
        p = redis.Redis(port=port, client_name="inv-receiver").pubsub()
        p.subscribe("__redis__:invalidate")
        assert p.get_message(timeout=DEADLINE_S)["type"] == "subscribe"
        sub_id = [c for c in r.client_list(_type="pubsub")
                  if c["name"] == "inv-receiver"][0]["id"]
        assert r.client_tracking_on(clientid=int(sub_id)) in (True, b"OK", "OK")
        assert r.client_getredir() == int(sub_id)
        r.get("cached")
        redis.Redis(port=port).set("cached", "new")
        m = p.get_message(timeout=DEADLINE_S)
        assert m["type"] == "message" and m["channel"] == b"__redis__:invalidate", m
        assert m["data"] == [b"cached"], m
        p.close()
        r.close()
        COMPARED[0] += 1


def main():
    if not shutil.which("redis-server"):
        print("redis-server not found: skipped")
        return
    port, oport = free_port(), free_port()
    srv = start([sys.argv[1], "--port", str(port), "--admin-port", "0", "--threads", "3",
                 "--loglevel", "warning"], port)
    oracle = start(["redis-server", "--port", str(oport), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--loglevel", "warning"], oport)
    ports = (port, oport)
    try:
        test_errors(ports)
        test_resp3_default(ports)
        test_noloop_optin_optout(ports)
        test_resp2_redirect(ports)
        test_bcast(ports)
        test_expiry(ports)
        test_redis_py(ports)
        test_rcached_only(port)
        test_race(port)
        test_admin(sys.argv[1])
    finally:
        srv.terminate()
        rc = srv.wait(DEADLINE_S)
        oracle.terminate()
        oracle.wait(DEADLINE_S)
    assert rc == 0, "rcached exited with %d" % rc
    print("all ok: %d replies identical to redis-server's" % COMPARED[0])


if __name__ == "__main__":
    main()
