#!/usr/bin/python3
"""resp3_diff_test.py - RESP3 (HELLO 3) in rcached against redis-server 7.0
as the oracle, byte for byte, plus redis-cli -3 as a real RESP3 client.

Each scenario sends the same commands over raw sockets to both servers,
reads every reply frame whole (RESP3 types: + - : $ * _ # , ( = % ~ >)
and compares the bytes. Covered: HELLO 3 / HELLO / HELLO 2 / HELLO 4 and
its options, nulls (GET, MGET, GETDEL, SET GET, MEMORY USAGE, CLIENT
GETNAME, EXEC after a WATCH abort, BITFIELD OVERFLOW FAIL), maps (HELLO,
CONFIG GET, LCS IDX, FUNCTION LIST / STATS), sets (FUNCTION LIST flags),
INCRBYFLOAT (a bulk in Redis 7.0 too), verbatim strings (INFO, CLIENT
INFO / LIST: type and format only, the text differs), Lua's RESP3 rules
(redis.setresp(3), {map=}, {set=}, {double=}, {big_number=},
{verbatim_string=}, booleans and nil, both protocols of the caller),
Pub/Sub push frames ('>') for SUBSCRIBE, PSUBSCRIBE, messages, pattern
messages, keyspace notifications and UNSUBSCRIBE, commands running while
subscribed, a RESP2 and a RESP3 subscriber on one channel, and RESET back
to RESP2. CLIENT LIST / CLIENT KILL TYPE pubsub|normal|master|replica are
compared as counts (the lines hold addresses and ids).

Deliberate differences (docs/SERVER.md): HELLO's id and the text of INFO /
CLIENT INFO / CLIENT LIST are normalised before comparing. CLIENT TRACKING
has its own differential test (tracking_diff_test.py).

Usage: resp3_diff_test.py <rcached binary>
"""
import os
import re
import shutil
import socket
import subprocess
import sys

from rtest import DEADLINE_S, free_port, poll


class Conn:
    """A raw connection; reply() returns one whole frame's bytes."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.settimeout(DEADLINE_S)
        self.buf = b""

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.s.sendall(b"".join(out))

    def _fill(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("server closed the connection")
            self.buf += d

    def _line(self, pos):
        while True:
            i = self.buf.find(b"\r\n", pos)
            if i >= 0:
                return i + 2
            self._fill(len(self.buf) + 1)

    def _frame(self, pos):
        """End offset of the frame starting at pos (reading as needed)."""
        self._fill(pos + 1)
        t = self.buf[pos:pos + 1]
        end = self._line(pos)
        if t in b"+-:_#,(":
            return end
        n = int(self.buf[pos + 1:end - 2])
        if t in b"$=!":
            if n < 0:
                return end
            self._fill(end + n + 2)
            return end + n + 2
        if t in b"*~>%|":
            count = n * 2 if t in b"%|" else n
            for _ in range(max(count, 0)):
                end = self._frame(end)
            return self._frame(end) if t == b"|" else end
        raise AssertionError("bad frame type %r in %r" % (t, self.buf[pos:pos + 80]))

    def reply(self):
        end = self._frame(0)
        out, self.buf = self.buf[:end], self.buf[end:]
        return out

    def run(self, *args):
        self.send(*args)
        return self.reply()

    def close(self):
        self.s.close()


def norm(cmd, rep):
    """Replies whose content legitimately differs, reduced to their form."""
    name = cmd[0].lower()
    sub = cmd[1].lower() if len(cmd) > 1 else ""
    if name == "hello" and not rep.startswith(b"-"):
        rep = re.sub(rb"(\$7\r\nversion\r\n)\$\d+\r\n[0-9.]+", rb"\1V", rep)
        return re.sub(rb"(\$2\r\nid\r\n):\d+", rb"\1:ID", rep)
    if rep.startswith(b"-"):
        return rep
    if name == "info" or (name == "client" and sub in ("info", "list")):
        m = re.match(rb"([=$])(\d+)\r\n(txt:)?", rep)
        assert m, rep[:80]
        return m.group(1) + b"LEN " + (m.group(3) or b"")
    return rep


COMPARED = [0]


def frames(conn, cmd, n):
    conn.send(*cmd)
    return b"".join(norm(cmd, conn.reply()) for _ in range(n))


def diff(conns, script, label):
    """Run script (a list of commands, or (conn_index, command[, frames])
    with the number of frames the command answers, 1 unless given) on both
    servers' connection sets; compare the replies."""
    for step in script:
        i, cmd, n = (step + (1,))[:3] if isinstance(step[0], int) else (0, step, 1)
        a = frames(conns[0][i], cmd, n)
        b = frames(conns[1][i], cmd, n)
        if a != b and os.environ.get("RESP3_ALL"):
            print("DIFF %s: %r\n  rcached %r\n  redis   %r" % (label, cmd, a, b))
            continue
        assert a == b, "%s: %r\n  rcached %r\n  redis   %r" % (label, cmd, a, b)
        COMPARED[0] += 1


def pair(ports, n=1, proto=3):
    """n connections to each server, HELLO <proto> sent (replies compared)."""
    sets = [[Conn(p) for _ in range(n)] for p in ports]
    for i in range(n):
        diff(sets, [(i, ("hello", str(proto)))], "hello")
    return sets


def close(sets):
    for s in sets:
        for c in s:
            c.close()


def test_hello(ports):
    sets = [[Conn(p)] for p in ports]
    diff(sets, [
        ("hello",), ("hello", "3"), ("hello",), ("get", "nokey"), ("hello", "2"),
        ("get", "nokey"), ("command", "info", "nosuch"), ("hello", "4"), ("hello", "1"),
        ("hello", "x"),
        ("hello", "3", "setname", "n1"), ("client", "getname"),
        ("hello", "3", "auth", "default", "wrong"), ("hello", "3", "bogus"),
        ("hello", "3", "auth", "default"), ("get", "nokey"),
        ("reset",), ("get", "nokey"), ("hello", "3"), ("get", "nokey"),
    ], "hello")
    close(sets)


def test_types(ports):
    sets = pair(ports)
    diff(sets, [
        ("flushall",), ("get", "nokey"), ("set", "a", "1"), ("get", "a"),
        ("mget", "a", "nokey", "a"), ("getdel", "nokey"), ("getex", "nokey"),
        ("set", "b", "x", "get"), ("set", "b", "y", "get"),
        ("incrbyfloat", "f", "1.5"), ("incrbyfloat", "f", "1e3"),
        ("memory", "usage", "nokey"), ("client", "getname"),
        ("config", "get", "maxmemory-policy"), ("config", "get", "nonexistent-xyz"),
        ("config", "set", "notify-keyspace-events", "KEA"),
        ("config", "get", "notify-keyspace-events"),
        ("config", "set", "notify-keyspace-events", ""),
        ("set", "l1", "ohmytext"), ("set", "l2", "mynewtext"),
        ("lcs", "l1", "l2"), ("lcs", "l1", "l2", "len"), ("lcs", "l1", "l2", "idx"),
        ("lcs", "l1", "l2", "idx", "minmatchlen", "4", "withmatchlen"),
        ("lcs", "l1", "nokey", "idx"),
        ("bitfield", "bf", "overflow", "fail", "incrby", "u2", "0", "5"),
        ("bitfield", "bf", "set", "u8", "0", "255", "get", "u8", "0"),
        ("exists", "a", "nokey"), ("ttl", "nokey"), ("type", "a"),
        ("keys", "nomatch*"),
        ("strlen", "nokey"), ("getrange", "a", "0", "-1"),
        ("object", "encoding", "nokey"), ("pubsub", "numsub", "c1", "c2"),
        ("pubsub", "channels", "nomatch*"), ("pubsub", "numpat"),
        ("script", "exists", "0000000000000000000000000000000000000000"),
        ("echo", "hi"), ("ping",), ("ping", "x"),
        ("watch", "w"), ("set", "w", "1"), ("multi",), ("get", "w"), ("exec",),
        ("multi",), ("get", "w"), ("get", "nokey"), ("incrbyfloat", "f", "1"), ("exec",),
        ("multi",), ("discard",),
        ("command", "info", "nosuch"), ("dbsize",), ("select", "1"), ("get", "a"), ("select", "0"),
    ], "types")
    # INFO and CLIENT INFO / LIST: verbatim strings of type txt
    diff(sets, [("info", "server"), ("client", "info"), ("client", "list")], "verbatim")
    close(sets)


# One function per library: Redis lists functions and libraries in its
# dict order (a hash with a random seed), so only single entries compare.
LIB = """#!lua name=rlib
redis.register_function{function_name='f1', callback=function(k, a) return 1 end,
  flags={'no-writes', 'allow-stale'}, description='one'}
"""
LIB2 = """#!lua name=rlib2
redis.register_function('f2', function(k, a) return {map={x=1}} end)
"""


def test_functions(ports):
    sets = pair(ports)
    diff(sets, [
        ("function", "flush"), ("function", "list"), ("function", "load", LIB),
        ("function", "list"), ("function", "list", "withcode"),
        ("function", "list", "libraryname", "nomatch"), ("function", "load", LIB2),
        ("function", "list", "libraryname", "rlib2"), ("function", "stats"),
        ("fcall", "f1", "0"), ("fcall", "f2", "0"), ("function", "flush"),
    ], "functions")
    close(sets)


EVALS = [
    "return true", "return false", "return nil", "return {1, 2, {3, 'x'}}",
    "return {double=3.5}", "return {double=-0.25}", "return {double=1/0}",
    "return {map={a=1}}", "return {map={a={1,2}}}", "return {set={a=true}}",
    "return {big_number='123456789012345678901234567890'}",
    "return {verbatim_string={format='txt', string='hello'}}",
    "return {1, {double=2.5}, false, true}", "return {ok='fine'}", "return {err='bad'}",
    "redis.setresp(3); return true", "redis.setresp(3); return false",
    "redis.setresp(3); return {true, false}",
    "redis.setresp(3); return redis.call('get', 'nokey')",
    "redis.setresp(3); return redis.call('get', 'nokey') == nil",
    "redis.setresp(2); return redis.call('get', 'nokey') == false",
    "redis.setresp(3); return redis.call('config', 'get', 'maxmemory-policy')",
    "redis.setresp(3); return redis.call('config', 'get', 'maxmemory-policy')"
    ".map['maxmemory-policy']",
    "return redis.call('config', 'get', 'maxmemory-policy')",
    "redis.setresp(3); return redis.call('hello', '3')",
    "redis.setresp(3); local r = redis.call('lcs', 'l1', 'l2', 'idx'); return r.map.len",
    "redis.setresp(3); return redis.call('lcs', 'l1', 'l2', 'idx')",
    "redis.setresp(3); return redis.call('function', 'stats')",
    "redis.setresp(3); local r = redis.call('function', 'list'); "
    "return r[1].map.functions[1].map.flags",
    "redis.setresp(3); return redis.call('incrbyfloat', 'f', '0.5')",
    "redis.setresp(3); return redis.pcall('get')",
    "redis.setresp(3); return redis.call('mget', 'nokey', 'a')",
    "redis.setresp(4)", "redis.setresp()",
]


def test_lua(ports):
    for proto in (3, 2):
        sets = pair(ports, proto=proto)
        diff(sets, [("flushall",), ("set", "a", "1"), ("set", "l1", "ohmytext"),
                    ("set", "l2", "mynewtext"), ("function", "load", LIB)],
             "lua setup")
        diff(sets, [("eval", e, "0") for e in EVALS], "lua resp%d" % proto)
        diff(sets, [("function", "flush",)], "lua done")
        close(sets)


def test_pubsub(ports):
    # conn 0: RESP3 subscriber, 1: publisher (RESP3), 2: RESP2 subscriber
    sets = [[Conn(p) for _ in range(3)] for p in ports]
    diff(sets, [(0, ("hello", "3")), (1, ("hello", "3"))], "ps hello")
    diff(sets, [
        (0, ("subscribe", "c1", "c2"), 2), (0, ("psubscribe", "c*")),
        (2, ("subscribe", "c1")),
        (1, ("publish", "c1", "m1")),
    ], "subscribe")
    # deliveries: message then pmessage to conn 0, message to conn 2
    for i, n in ((0, 2), (2, 1)):
        for _ in range(n):
            a, b = sets[0][i].reply(), sets[1][i].reply()
            assert a == b, "delivery: rcached %r, redis %r" % (a, b)
            COMPARED[0] += 1
    diff(sets, [
        (0, ("get", "nokey")), (0, ("set", "s", "1")), (0, ("ping",)), (0, ("ping", "x")),
        (2, ("ping",)), (2, ("get", "nokey")),
        (1, ("pubsub", "numsub", "c1")),
    ], "commands while subscribed")
    # CLIENT LIST / KILL TYPE: compared as counts
    for t in ("pubsub", "normal", "master", "replica", "slave"):
        got = []
        for s in sets:
            s[1].send("client", "list", "type", t)
            rep = s[1].reply()
            got.append(rep.count(b"id="))
        assert got[0] == got[1], "client list type %s: %r" % (t, got)
        assert t != "pubsub" or got[0] == 2, got
        COMPARED[0] += 1
    diff(sets, [(1, ("client", "list", "type", "bogus")),
                (1, ("client", "kill", "type", "bogus")),
                (1, ("client", "kill", "type", "master")),
                (1, ("client", "kill", "type", "replica"))], "client type errors")
    # keyspace notifications as push frames
    diff(sets, [(1, ("config", "set", "notify-keyspace-events", "KEA")),
                (0, ("psubscribe", "__key*__:*")), (1, ("set", "kn", "v")),
                (1, ("del", "kn"))], "notify setup")
    for _ in range(4):
        a, b = sets[0][0].reply(), sets[1][0].reply()
        assert a == b, "notification: rcached %r, redis %r" % (a, b)
        COMPARED[0] += 1
    # (UN)SUBSCRIBE with no channel leaves them in Redis's dict order: one
    # channel left at a time; patterns go in subscription order
    diff(sets, [(1, ("config", "set", "notify-keyspace-events", "")),
                (0, ("unsubscribe", "c2")), (0, ("unsubscribe",)), (2, ("unsubscribe",)),
                (0, ("punsubscribe",), 2)], "unsubscribe")
    diff(sets, [(0, ("unsubscribe",)), (0, ("psubscribe", "z*")),
                (1, ("client", "list", "type", "pubsub")),
                (1, ("client", "kill", "type", "pubsub"))], "kill pubsub")
    for s in sets:  # the killed subscriber's connection closes
        poll(lambda: closed(s[0]), "killed subscriber to close")
    diff(sets, [(2, ("reset",)), (2, ("get", "nokey"))], "reset")
    close(sets)


def closed(c):
    try:
        return c.s.recv(1) == b""
    except OSError:
        return True


def test_shapes(port):
    """rcached only: replies whose fields differ from Redis's (rcached has
    fewer MEMORY STATS fields, no key specs or arguments in COMMAND) still
    use the RESP3 types Redis 7.0 uses for them."""
    c = Conn(port)
    c.run("hello", "3")
    stats = c.run("memory", "stats")
    assert stats.startswith(b"%18\r\n$14\r\npeak.allocated\r\n:"), stats[:60]
    assert b"$18\r\ndataset.percentage\r\n," in stats, stats
    info = c.run("command", "info", "get")
    assert info.startswith(b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n"
                           b":1\r\n:1\r\n:1\r\n~"), info
    docs = c.run("command", "docs", "get")
    assert docs.startswith(b"%1\r\n$3\r\nget\r\n%3\r\n$7\r\nsummary\r\n"), docs
    c.run("hello", "2")  # and the RESP2 forms
    stats2 = c.run("memory", "stats")
    assert stats2.startswith(b"*36\r\n"), stats2[:20]
    assert b"$18\r\ndataset.percentage\r\n$" in stats2
    assert c.run("command", "docs", "get").startswith(b"*2\r\n$3\r\nget\r\n*6\r\n")
    c.close()


def test_redis_cli(ports):
    """redis-cli -3 prints the same for both servers."""
    cmds = [["hello", "3"], ["get", "nokey"], ["config", "get", "maxmemory-policy"],
            ["eval", "return {map={a=1}}", "0"], ["eval", "return {set={x=true}}", "0"],
            ["eval", "return {double=1.5}", "0"], ["eval", "redis.setresp(3) return true", "0"],
            ["lcs", "l1", "l2", "idx"], ["function", "stats"]]
    for s in ports:
        subprocess.run(["redis-cli", "-p", str(s), "mset", "l1", "ohmytext", "l2", "mynewtext"],
                       check=True, capture_output=True)
    for cmd in cmds:
        out = [subprocess.run(["redis-cli", "-3", "-p", str(p)] + cmd, check=True,
                              capture_output=True, timeout=DEADLINE_S).stdout for p in ports]
        if cmd[0] == "hello":
            out = [re.sub(rb"\nid \d+\n", b"\nid N\n", re.sub(rb"version [0-9.]+", b"V", o))
                   for o in out]
        assert out[0] == out[1], "redis-cli -3 %r:\n%r\n%r" % (cmd, out[0], out[1])
        COMPARED[0] += 1


def start(argv, port):
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)

    def up():
        assert proc.poll() is None, "%s exited with %s" % (argv[0], proc.returncode)
        try:
            c = Conn(port)
            ok = c.run("ping") == b"+PONG\r\n"
            c.close()
            return ok
        except OSError:
            return False
    poll(up, argv[0] + " to start")
    return proc


def main():
    if not shutil.which("redis-server"):
        print("redis-server not found: skipped")
        return
    port, oport = free_port(), free_port()
    srv = start([sys.argv[1], "--port", str(port), "--admin-port", "0", "--threads", "2",
                 "--loglevel", "warning", "--maxmemory-policy", "allkeys-lru"], port)
    oracle = start(["redis-server", "--port", str(oport), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--loglevel", "warning",
                    "--maxmemory-policy", "allkeys-lru"], oport)
    ports = (port, oport)
    try:
        test_hello(ports)
        test_types(ports)
        test_functions(ports)
        test_lua(ports)
        test_pubsub(ports)
        test_shapes(port)
        if shutil.which("redis-cli"):
            test_redis_cli(ports)
    finally:
        srv.terminate()
        rc = srv.wait(DEADLINE_S)
        oracle.terminate()
        oracle.wait(DEADLINE_S)
    assert rc == 0, "rcached exited with %d" % rc
    print("all ok: %d replies identical to redis-server's" % COMPARED[0])


if __name__ == "__main__":
    main()
