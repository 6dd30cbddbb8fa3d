#!/usr/bin/python3
"""pubsub_test.py - rcached's Pub/Sub, keyspace notifications and pub/sub
output-buffer limit, driven by redis-py (Debian python3-redis) and checked
against redis-server 7.0 as an oracle where one is installed (issue 11):

- SUBSCRIBE / PSUBSCRIBE / UNSUBSCRIBE / PUNSUBSCRIBE (with and without
  arguments), PUBLISH receiver counts, PUBSUB CHANNELS / NUMSUB / NUMPAT;
- publishers and subscribers on different connections (rcached --threads 4
  spreads them over worker threads): every subscriber gets every message,
  and each publisher's messages in publish order;
- RESP2 subscriber mode: the exact bytes rcached and redis-server answer to
  allowed and refused commands (PING as a message, the error text, RESET);
- keyspace notifications (differential): the same command sequences on both
  servers with notify-keyspace-events set, every notification collected and
  compared (fixed cases, then seeded random ones); config flag parsing and
  CONFIG GET's canonical form; expired (lazy and active) and evicted events;
  databases, MULTI/EXEC and EVAL;
- slow subscriber: one that never reads is disconnected at the hard limit
  (the server stays up, a reading subscriber gets everything), and after the
  soft limit held longer than its seconds on the DEBUG clock (not before).

Synchronisation is explicit: a "sync" message published after each command
marks the end of its notifications; waits are polls with a generous deadline,
never an assertion on elapsed time.

Usage: pubsub_test.py <rcached binary>
"""
import random
import shutil
import socket
import subprocess
import sys
import threading
import time

import redis

from rtest import DEADLINE_S, check_engine, free_port, poll



def start(argv, port, quiet=False):
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL if quiet else None)

    def up():
        try:
            return redis.Redis(port=port).ping()
        except redis.exceptions.ConnectionError:
            return False
    poll(up, argv[0] + " to start")
    return proc


# ---- raw RESP, for byte-exact comparisons ----------------------------------

class Raw:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.settimeout(DEADLINE_S)
        self.buf = b""

    def send(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)

    def _line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("closed")
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _n(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("closed")
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def reply(self):
        """One reply, as the bytes it arrived as."""
        line = self._line()
        raw = line + b"\r\n"
        t = line[:1]
        if t == b"$" and int(line[1:]) >= 0:
            raw += self._n(int(line[1:]) + 2)
        elif t == b"*" and int(line[1:]) > 0:
            for _ in range(int(line[1:])):
                raw += self.reply()
        return raw

    def close(self):
        self.s.close()


# ---- Pub/Sub behaviour (rcached) -------------------------------------------

def drain_until(p, pred, what):
    """Read pubsub messages until pred(msg) is true; returns all read."""
    got = []
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        m = p.get_message(timeout=1.0)
        if m is None:
            continue
        got.append(m)
        if pred(m):
            return got
    raise AssertionError("timed out waiting for " + what)


def test_basics(port):
    r = redis.Redis(port=port)
    p = r.pubsub()
    p.subscribe("a", "b")
    p.psubscribe("n*", "x?")
    subs = drain_until(p, lambda m: m["type"] == "psubscribe" and m["data"] == 4, "subs")
    assert [m["data"] for m in subs] == [1, 2, 3, 4], subs
    assert sorted(r.pubsub_channels()) == [b"a", b"b"]
    assert r.pubsub_channels("a*") == [b"a"]
    assert r.pubsub_numsub("a", "b", "zz") == [(b"a", 1), (b"b", 1), (b"zz", 0)]
    assert r.pubsub_numpat() == 2
    info = r.info("stats")
    assert (info["pubsub_channels"], info["pubsub_patterns"]) == (2, 2), info
    assert r.publish("a", "hello") == 1
    assert r.publish("news", "n1") == 1       # pattern only
    assert r.publish("xy", "xy") == 1
    assert r.publish("nobody", "x") == 1      # n*
    assert r.publish("zzz", "x") == 0
    msgs = drain_until(p, lambda m: m["data"] == b"x", "messages")
    msgs = [(m["type"], m["pattern"], m["channel"], m["data"]) for m in msgs]
    assert msgs == [("message", None, b"a", b"hello"),
                    ("pmessage", b"n*", b"news", b"n1"),
                    ("pmessage", b"x?", b"xy", b"xy"),
                    ("pmessage", b"n*", b"nobody", b"x")], msgs
    # a second subscriber to a, and a pattern matching a: 3 receivers
    p2 = r.pubsub()
    p2.subscribe("a")
    p2.psubscribe("*")
    drain_until(p2, lambda m: m["type"] == "psubscribe", "p2 subs")
    assert r.publish("a", "three") == 3
    assert r.pubsub_numpat() == 3
    p.unsubscribe("a")
    drain_until(p, lambda m: m["type"] == "unsubscribe", "unsub a")
    assert r.pubsub_numsub("a") == [(b"a", 1)]
    p.unsubscribe()
    p.punsubscribe()
    drain_until(p, lambda m: m["type"] == "punsubscribe" and m["data"] == 0, "unsub all")
    assert r.pubsub_numpat() == 1
    p2.close()
    poll(lambda: r.pubsub_numpat() == 0 and r.pubsub_channels() == [], "p2 gone")
    p.close()
    print("  basics ok")


def test_threads_and_order(port, publishers=4, per=400, subscribers=6):
    """Subscribers spread over the workers; publishers on their own
    connections; every subscriber gets all, each publisher's in order."""
    r = redis.Redis(port=port)
    subs = []
    for i in range(subscribers):
        p = redis.Redis(port=port).pubsub()
        if i % 2:
            p.psubscribe("ord*")
        else:
            p.subscribe("order")
        drain_until(p, lambda m: m["type"] in ("subscribe", "psubscribe"), "sub")
        subs.append(p)
    poll(lambda: r.pubsub_numsub("order")[0][1] == (subscribers + 1) // 2, "subscribed")
    counts = []

    def publish(k):
        c = redis.Redis(port=port)
        for i in range(per):
            counts.append(c.publish("order", "%d:%d" % (k, i)))
    ts = [threading.Thread(target=publish, args=(k,)) for k in range(publishers)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert counts == [subscribers] * (publishers * per), set(counts)
    for p in subs:
        last = [-1] * publishers
        n = 0
        end = time.monotonic() + DEADLINE_S
        while n < publishers * per:
            assert time.monotonic() < end, "subscriber got only %d" % n
            m = p.get_message(timeout=1.0)
            if m is None or m["type"] not in ("message", "pmessage"):
                continue
            k, i = map(int, m["data"].split(b":"))
            assert i == last[k] + 1, "publisher %d: %d after %d" % (k, i, last[k])
            last[k] = i
            n += 1
        p.close()
    print("  %d publishers x %d messages to %d subscribers, in order" %
          (publishers, per, subscribers))


SUBMODE_SCRIPT = [  # (command, number of replies)
    (("subscribe", "c1", "c2"), 2),
    (("ping",), 1),
    (("ping", "hi"), 1),
    (("get", "x"), 1),
    (("set", "x", "1"), 1),
    (("psubscribe", "p*"), 1),
    (("unsubscribe", "nosuch", "c2"), 2),
    (("unsubscribe",), 1),            # leaves c1
    (("echo", "still"), 1),           # still subscribed to p*
    (("punsubscribe",), 1),
    (("punsubscribe",), 1),           # none left: null channel, count 0
    (("unsubscribe",), 1),
    (("ping",), 1),                   # out of subscriber mode again
    (("subscribe", "c3"), 1),
    (("multi",), 1),
    (("reset",), 1),
    (("get", "x"), 1),
    (("pubsub", "numpat", "x"), 1),
    (("pubsub", "nosuch"), 1),
    (("publish", "c3", "m"), 1),
]


def submode_transcript(port):
    c = Raw(port)
    out = []
    for cmd, n in SUBMODE_SCRIPT:
        c.send(*cmd)
        out.append((cmd, [c.reply() for _ in range(n)]))
    c.close()
    return out


def test_subscriber_mode(port, oracle_port):
    got = submode_transcript(port)
    # spot checks that hold whatever the oracle says
    assert got[1][1] == [b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"], got[1]
    assert got[3][1][0] == (b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / "
                             b"(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed "
                             b"in this context\r\n"), got[3]
    if oracle_port:
        want = submode_transcript(oracle_port)
        for (cmd, a), (_, b) in zip(got, want):
            assert a == b, "%s: rcached %r, redis %r" % (cmd, a, b)
        print("  subscriber mode: same bytes as redis-server")
    else:
        print("  subscriber mode ok (no redis-server: spot checks only)")


# ---- keyspace notifications (differential) ----------------------------------

class Notes:
    """A subscriber to every keyspace channel plus a sync channel."""

    def __init__(self, port, db=0):
        self.r = redis.Redis(port=port, db=db)
        self.pub = redis.Redis(port=port)
        self.p = redis.Redis(port=port).pubsub()
        self.p.psubscribe("__key*__:*")
        self.p.subscribe("sync")
        drain_until(self.p, lambda m: m["type"] == "subscribe", "notes sub")

    def run(self, *cmd):
        try:
            rep = self.r.execute_command(*cmd)
        except redis.exceptions.ResponseError as e:
            rep = "ERR " + str(e).split(" ")[0]
        return rep, self.collect()

    def collect(self):
        self.pub.publish("sync", "x")
        got = drain_until(self.p, lambda m: m["type"] == "message", "sync")
        return [(m["channel"], m["data"]) for m in got if m["type"] == "pmessage"]

    def close(self):
        self.p.close()


FIXED = """set a 1
set a 2
set a 3 ex 100
set a 3 keepttl
set b 1 nx
set b 2 nx
set b 3 xx
set zz 3 xx
set a 4 get
set nk 4 get
setex c 100 v
psetex c 100000 v
setnx d 1
setnx d 2
getset d 3
getset e 3
mset f 1 g 2
msetnx h 1 i 2
msetnx h 1 j 2
append a x
append k x
setrange a 0 y
setrange m 2 x
incr n
decr n
incrby n 5
decrby n 5
incrbyfloat n 1.5
setrange nul 1 5
incrbyfloat nul 1
incr nul
incr a
get nosuch
mget a nosuch b
strlen nosuch
getrange nosuch 0 1
exists a nosuch
type nosuch
ttl nosuch
pttl nosuch
touch a nosuch
getdel n
getdel n
getex a ex 100
getex a persist
getex a persist
getex a
getex zzz ex 10
getex a pxat 1
del a b zzz
unlink c
expire d 100
expire d 100 nx
persist d
persist d
pexpire d -1
set o 1
expire o 0
set p 1
expireat p 1
rename e q
rename f g
renamenx g h
renamenx g r
rename nosuch x
rename q q
setbit b1 3 1
setbit b1 3 1
setbit b1 3 0
setbit b2 100 0
bitop and b5 b1 b2
bitop or b5 b1 b2
bitop not b6 nosuch
set b7 x
bitop and b7 nosuch1 nosuch2
bitop xor b7 nosuch1 nosuch2
bitop not b1 b1
bitfield b8 set u8 0 255
bitfield b8 get u8 0
bitfield b8 incrby u8 0 1
bitfield b9 overflow fail incrby u2 0 5
bitfield b8 overflow fail incrby u8 0 300
bitfield b8 overflow sat incrby u8 0 300
bitfield b10 get u8 0
bitfield_ro b8 get u8 0
bitop not b1 b1
copy b1 b3
copy b1 b3
copy b1 b3 replace
copy b1 b4 db 2
move b1 4
move b1 4
flushdb
set v 1"""


COMPARED = [0]  # notifications compared (printed: the test must compare some)


def diff_sequence(cmds, rc, rs, label):
    for cmd in cmds:
        a = rc.run(*cmd)
        b = rs.run(*cmd)
        assert a == b, "%s: %s\n  rcached %r\n  redis   %r" % (label, " ".join(cmd), a, b)
        COMPARED[0] += len(a[1])


def random_cmds(rng, n):
    keys = ["k%d" % i for i in range(6)]
    out = []
    for _ in range(n):
        k, k2 = rng.choice(keys), rng.choice(keys)
        v = rng.choice(["1", "22", "abc", "7"])
        out.append(rng.choice([
            ("set", k, v), ("set", k, v, "nx"), ("set", k, v, "xx"),
            ("set", k, v, "ex", "100"), ("set", k, v, "get"), ("setnx", k, v),
            ("getset", k, v), ("mset", k, v, k2, v), ("msetnx", k, v, k2, v),
            ("append", k, v), ("setrange", k, str(rng.randrange(4)), v),
            ("incr", k), ("incrby", k, "3"), ("incrbyfloat", k, "0.5"),
            ("del", k, k2), ("unlink", k), ("getdel", k), ("get", k),
            # LT, not GT: every TTL here is 50 or 100 s from some earlier
            # moment, so "100 lt" fails on any key with a TTL and succeeds
            # on one without, whatever the clock; "100 gt" succeeded or not
            # by whether a millisecond passed since the TTL was set, on each
            # server on its own (a flake: rcached True, redis False).
            ("exists", k, k2), ("expire", k, "100"), ("expire", k, "100", "lt"),
            ("pexpire", k, "0"), ("persist", k), ("getex", k, "ex", "50"),
            ("getex", k, "persist"), ("rename", k, k2), ("renamenx", k, k2),
            ("ttl", k), ("type", k), ("strlen", k),
            ("setbit", k, str(rng.randrange(16)), str(rng.randrange(2))),
            ("bitop", rng.choice(["and", "or", "xor"]), k, k2, rng.choice(keys)),
            ("bitop", "not", k, k2),
            ("bitfield", k, "overflow", rng.choice(["wrap", "sat", "fail"]),
             "incrby", "u4", str(rng.randrange(8)), str(rng.randrange(20))),
            ("bitfield", k, "get", "u8", "0"),
        ]))
    return out


def test_notifications(port, oracle_port):
    r = redis.Redis(port=port)
    # flag parsing and CONFIG GET's canonical form (Redis 7.0's)
    canon = {"KEAn": "AKE", "An": "A", "Kgn$": "g$nK", "AKEm": "AKEm",
             "g$xenKE": "g$xenKE", "KEx": "xKE", "": "", "Elshzxetd$g": "AE"}
    for flags, want in canon.items():
        r.config_set("notify-keyspace-events", flags)
        got = r.config_get("notify-keyspace-events")["notify-keyspace-events"]
        assert got == want, (flags, got, want)
    try:
        r.config_set("notify-keyspace-events", "KEZ")
        raise AssertionError("bad flag accepted")
    except redis.exceptions.ResponseError as e:
        assert "Invalid event class character" in str(e), e
    if not oracle_port:
        print("  notifications: no redis-server, differential part skipped")
        return
    s = redis.Redis(port=oracle_port)
    for flags in canon:
        s.config_set("notify-keyspace-events", flags)
        assert s.config_get("notify-keyspace-events")["notify-keyspace-events"] == canon[flags]
    for srv in (r, s):
        srv.execute_command("debug", "set-active-expire", "0")
        srv.flushall()
    for flags in ("KEAnm", "KA", "Eg", "K$n", "Ex"):
        for srv in (r, s):
            srv.config_set("notify-keyspace-events", flags)
            srv.flushall()
        rc, rs = Notes(port), Notes(oracle_port)
        diff_sequence([l.split() for l in FIXED.split("\n")], rc, rs, "fixed " + flags)
        rc.close()
        rs.close()
    for srv in (r, s):
        srv.config_set("notify-keyspace-events", "KEAnm")
        srv.flushall()
    rc, rs = Notes(port), Notes(oracle_port)
    rng = random.Random(11)
    diff_sequence(random_cmds(rng, 600), rc, rs, "random")
    # lazy expiry: a key past its TTL is "expired" when next touched
    diff_sequence([("set", "ex1", "v", "px", "1"), ("set", "ex2", "v", "px", "1")],
                  rc, rs, "expiry setup")
    time.sleep(0.02)  # makes the 1 ms TTLs pass; nothing is asserted on it
    diff_sequence([("get", "ex1"), ("set", "ex2", "w"), ("get", "ex2")], rc, rs, "lazy expiry")
    # MULTI/EXEC and scripts: each command's events, in order
    for n in (rc, rs):
        pipe = n.r.pipeline(transaction=True)
        pipe.set("m1", "1").incr("m1").append("m1", "x").delete("m1")
        pipe.execute()
    assert rc.collect() == rs.collect()
    script = "redis.call('set', KEYS[1], 'x'); redis.call('expire', KEYS[1], 50); " \
             "redis.call('del', KEYS[1]); return 1"
    diff_sequence([("eval", script, "1", "sk")], rc, rs, "eval")
    rc.close()
    rs.close()
    # databases: __keyspace@3__
    rc, rs = Notes(port, db=3), Notes(oracle_port, db=3)
    diff_sequence([("set", "d3", "1"), ("incr", "d3"), ("rename", "d3", "d4"), ("del", "d4")],
                  rc, rs, "db 3")
    rc.close()
    rs.close()
    for srv in (r, s):
        srv.execute_command("debug", "set-active-expire", "1")
    assert COMPARED[0] > 1000, COMPARED
    print("  notifications: the same %d events as redis-server (fixed, random, expiry, "
          "MULTI, EVAL, db 3)" % COMPARED[0])


def test_expired_evicted(port):
    """rcached only: active expiry and eviction events (the library's
    removal listener). The DEBUG clock moves time; DEBUG EXPIRE-CYCLE runs
    the active cycle on demand."""
    r = redis.Redis(port=port)
    r.flushall()
    r.config_set("notify-keyspace-events", "Exe")
    n = Notes(port)
    r.set("ax", "1", px=5000)
    n.collect()
    r.execute_command("debug", "clock-advance", "6000")
    r.execute_command("debug", "expire-cycle")
    assert n.collect() == [(b"__keyevent@0__:expired", b"ax")]
    r.config_set("max-items", "3")
    for i in range(3):
        r.set("ev%d" % i, "v")
    assert n.collect() == []
    r.set("ev3", "v")
    got = n.collect()
    assert len(got) == 1 and got[0][0] == b"__keyevent@0__:evicted" and \
        got[0][1] in (b"ev0", b"ev1", b"ev2"), got
    r.config_set("max-items", "0")
    r.config_set("notify-keyspace-events", "")
    n.close()
    print("  expired (active) and evicted events ok")


# ---- slow subscribers ---------------------------------------------------------

def client_line(r, cid):
    for c in r.client_list():
        if int(c["id"]) == cid:
            return c
    return None


def test_hard_limit(port):
    r = redis.Redis(port=port)
    r.config_set("client-output-buffer-limit", "pubsub 256kb 0 0")
    slow = Raw(port)
    slow.send("client", "id")
    slow_id = int(slow.reply()[1:-2])
    slow.send("subscribe", "flood")
    slow.reply()
    good = redis.Redis(port=port).pubsub()
    good.subscribe("flood")
    drain_until(good, lambda m: m["type"] == "subscribe", "good sub")
    # Lockstep: each message is read by the good subscriber before the next
    # is published, so only the slow one's output can grow.
    payload = b"x" * 65536
    received = []
    sent = 0
    end = time.monotonic() + DEADLINE_S
    while client_line(r, slow_id) is not None:
        assert time.monotonic() < end and sent < 20000, "slow subscriber never dropped"
        r.publish("flood", payload + b"%d" % sent)
        sent += 1
        got = drain_until(good, lambda m: m["type"] == "message", "message %d" % sent)
        received += [m["data"] for m in got if m["type"] == "message"]
    assert received == [payload + b"%d" % i for i in range(sent)]
    assert r.ping()
    assert r.pubsub_numsub("flood") == [(b"flood", 1)]
    good.close()
    slow.close()
    r.config_set("client-output-buffer-limit", "pubsub 32mb 8mb 60")
    print("  hard limit: slow subscriber dropped after %d messages, the other got all" % sent)


def test_soft_limit(port):
    r = redis.Redis(port=port)
    r.config_set("client-output-buffer-limit", "pubsub 0 128kb 60")
    assert r.config_get("client-output-buffer-limit")["client-output-buffer-limit"] \
        .endswith("pubsub 0 131072 60")
    slow = Raw(port)
    slow.send("client", "id")
    slow_id = int(slow.reply()[1:-2])
    slow.send("subscribe", "soft")
    slow.reply()
    payload = b"y" * 32768

    def omem():
        line = client_line(r, slow_id)
        return int(line["omem"]) if line else -1
    # fill until the server holds well over the soft limit for it (the
    # kernel's socket buffers may still take some of it later)
    end = time.monotonic() + DEADLINE_S
    while omem() <= 4 * 131072:
        assert time.monotonic() < end and omem() >= 0, "soft limit never reached"
        r.publish("soft", payload)
    # 30 s later on the server clock: still connected
    r.execute_command("debug", "clock-advance", "30000")
    before = omem()
    r.publish("soft", payload)
    poll(lambda: omem() != before, "the next message to reach its output")
    assert client_line(r, slow_id) is not None, "dropped before soft seconds passed"
    # past 60 s above the soft limit: the next message disconnects it. If
    # the kernel took enough of its output to bring it under the limit for
    # a moment, the server rightly restarted the count: advance again.
    def dropped():
        if client_line(r, slow_id) is None:
            return True
        r.execute_command("debug", "clock-advance", "31000")
        r.publish("soft", payload)
        return client_line(r, slow_id) is None
    poll(dropped, "slow subscriber to be dropped")
    assert r.ping()
    slow.close()
    r.config_set("client-output-buffer-limit", "pubsub 32mb 8mb 60")
    print("  soft limit: kept at 30 s, dropped past 60 s (DEBUG clock)")


def main():
    binary = sys.argv[1]
    port = free_port()
    srv = start([binary, "--port", str(port), "--admin-port", "0", "--threads", "4",
                 "--loglevel", "warning", "--enable-debug-command", "yes"], port)
    oracle, oport = None, None
    if shutil.which("redis-server"):
        oport = free_port()
        oracle = start(["redis-server", "--port", str(oport), "--bind", "127.0.0.1",
                        "--save", "", "--appendonly", "no", "--loglevel", "warning",
                        "--enable-debug-command", "yes"], oport, quiet=True)
    else:
        print("redis-server not found: differential checks skipped")
    try:
        check_engine([binary], redis.Redis(port=port))
        test_basics(port)
        test_threads_and_order(port)
        test_subscriber_mode(port, oport)
        test_notifications(port, oport)
        test_expired_evicted(port)
        test_hard_limit(port)
        test_soft_limit(port)
    finally:
        srv.terminate()
        rc = srv.wait(DEADLINE_S)
        if oracle:
            oracle.terminate()
            oracle.wait(DEADLINE_S)
    assert rc == 0, "rcached exited with %d" % rc
    print("all ok")


if __name__ == "__main__":
    main()
