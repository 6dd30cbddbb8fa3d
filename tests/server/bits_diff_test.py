#!/usr/bin/python3
"""bits_diff_test.py - differential test of rcached against redis-server 7.0
(the oracle) for the bit, LCS and cross-database commands (issue 11):
SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO, LCS, COPY,
MOVE, SWAPDB, SELECT, mixed with GET, SET, APPEND, SETRANGE, GETRANGE,
STRLEN, DEL, EXISTS, DBSIZE and TTL.

Both servers start on free loopback ports; a generator seeded with
RCACHE_DIFF_SEED (default fixed) produces commands - valid ones, bad
arguments (non-integers, bad types and units, wrong option spellings) and
edge offsets (0, byte and bit boundaries, the proto-max-bulk-len bound,
negative ranges) - that are sent, in pipelined batches, over raw RESP
connections to both, and every reply is compared byte for byte, errors
included. TTL replies are compared as "no key / no expiry / some expiry"
(the remaining seconds depend on timing). On the first difference the test
prints the command, both replies and the commands before it, and fails.

Usage: bits_diff_test.py <rcached binary> [ops] [seed]
"""
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from rtest import DEADLINE_S, free_port



class Conn:
    """A raw RESP2 connection: replies parsed into nested tuples that keep
    the type (so '+OK' and '$2 OK' differ) and the exact error text."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def send(self, cmds):
        out = []
        for c in cmds:
            out.append(b"*%d\r\n" % len(c))
            for a in c:
                a = a if isinstance(a, bytes) else str(a).encode()
                out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.s.sendall(b"".join(out))

    def _line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("server closed the connection")
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _bytes(self, n):
        while len(self.buf) < n + 2:
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("server closed the connection")
            self.buf += d
        b, self.buf = self.buf[:n], self.buf[n + 2:]
        return b

    def reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t in (b"+", b"-", b":"):
            return (t, rest)
        n = int(rest)
        if t == b"$":
            return (t, None if n < 0 else self._bytes(n))
        if t == b"*":
            return (t, None if n < 0 else tuple(self.reply() for _ in range(n)))
        raise ValueError("bad reply type %r" % line)


def start(argv, port, log):
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        try:
            c = Conn(port)
            c.send([["PING"]])
            if c.reply() == (b"+", b"PONG"):
                return p, c
        except (ConnectionError, OSError):
            pass
        if p.poll() is not None:
            raise AssertionError("%s exited" % argv[0])
        time.sleep(0.05)
    raise AssertionError("%s did not start" % argv[0])


# ---- the generator ---------------------------------------------------------

KEYS = [b"k1", b"k2", b"k3", b"{x}k4", b"bits"]
DBS = [0, 0, 0, 1, 2, 15]
BYTES = b"\x00\xff\x01\x80abcAB0 "


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def key(self):
        return self.r.choice(KEYS)

    def val(self, n=12):
        return bytes(self.r.choice(BYTES) for _ in range(self.r.randint(0, n)))

    def small_int(self):
        return str(self.r.choice([0, 1, 2, 3, 7, 8, 9, 15, 16, 31, 63, 64, 65, 100,
                                  -1, -2, -7, -8, -9, -100]))

    def offset(self):
        """A bit offset: mostly small, some at byte edges, some invalid."""
        r = self.r.random()
        if r < 0.75:
            return str(self.r.randint(0, 130))
        return self.r.choice(["-1", "x", "1.5", "", " 1", "+1", "01",
                              "4294967296", "4294967295000", "9223372036854775807",
                              "-9223372036854775808", "18446744073709551616"])

    def range_args(self):
        r = self.r.random()
        if r < 0.2:
            return []
        a = [self.small_int(), self.small_int()]
        if r < 0.45:
            a.append(self.r.choice(["BYTE", "BIT", "bit", "byte", "BITS", "x"]))
        if self.r.random() < 0.05:
            a[self.r.randrange(len(a))] = self.r.choice(["x", "1e3", "", "99999999999999999999"])
        return a

    def bitfield_type(self):
        r = self.r.random()
        if r < 0.9:
            s = self.r.choice("iu")
            return "%s%d" % (s, self.r.randint(1, 64 if s == "i" else 63))
        return self.r.choice(["u64", "i65", "i0", "x8", "u", "I8", "u-1", ""])

    def bitfield_offset(self):
        r = self.r.random()
        if r < 0.6:
            return str(self.r.randint(0, 100))
        if r < 0.9:
            return "#%d" % self.r.randint(0, 12)
        return self.r.choice(["-1", "#-1", "x", "#x", "4294967296", "#4294967296",
                              "#9223372036854775807"])

    def bitfield_value(self):
        return str(self.r.choice([0, 1, -1, 2, 100, 127, 128, 255, 256, -128, -129,
                                  65535, -32768, 2**31, -2**31, 2**62, -2**62,
                                  2**63 - 1, -2**63, self.r.randint(-1000, 1000)]))

    def bitfield(self, ro):
        cmd = [b"BITFIELD_RO" if ro else b"BITFIELD", self.key()]
        for _ in range(self.r.randint(0, 4)):
            op = self.r.choice(["GET", "GET", "SET", "INCRBY", "OVERFLOW", "get", "incrby"]
                               if not ro or self.r.random() < 0.2 else ["GET"])
            if op.upper() == "OVERFLOW":
                cmd += [op, self.r.choice(["WRAP", "SAT", "FAIL", "fail", "bad"])]
            elif op.upper() == "GET":
                cmd += [op, self.bitfield_type(), self.bitfield_offset()]
            else:
                cmd += [op, self.bitfield_type(), self.bitfield_offset(), self.bitfield_value()]
        if self.r.random() < 0.03:
            cmd.append(self.r.choice(["GET", "bogus", "SET"]))  # short / unknown
        return cmd

    def lcs(self):
        cmd = [b"LCS", self.key(), self.key()]
        for _ in range(self.r.randint(0, 3)):
            o = self.r.choice(["LEN", "IDX", "WITHMATCHLEN", "MINMATCHLEN", "minmatchlen",
                               "idx", "bad"])
            cmd.append(o)
            if o.upper() == "MINMATCHLEN" and self.r.random() < 0.9:
                cmd.append(self.r.choice(["0", "1", "2", "3", "-1", "x"]))
        return cmd

    def copy(self):
        cmd = [b"COPY", self.key(), self.key()]
        for _ in range(self.r.randint(0, 2)):
            o = self.r.choice(["REPLACE", "DB", "DB", "db", "bad"])
            cmd.append(o)
            if o.upper() == "DB" and self.r.random() < 0.95:
                cmd.append(self.r.choice(["0", "1", "2", "15", "16", "-1", "x"]))
        return cmd

    def next(self):
        r = self.r
        k = self.key()
        choices = [
            (8, lambda: [b"SET", k, self.val()]),
            (2, lambda: [b"SET", k, self.val(), b"EX", b"100000"]),
            (3, lambda: [b"GET", k]),
            (3, lambda: [b"APPEND", k, self.val(4)]),
            (3, lambda: [b"SETRANGE", k, r.choice(["0", "1", "5", "9", "-1", "x"]), self.val(4)]),
            (1, lambda: [b"GETRANGE", k, self.small_int(), self.small_int()]),
            (1, lambda: [b"STRLEN", k]),
            (1, lambda: [b"DEL", k]),
            (1, lambda: [b"EXISTS", k, self.key()]),
            (10, lambda: [b"SETBIT", k, self.offset(),
                          r.choice(["0", "1", "1", "0", "2", "-1", "x", "01"])]),
            (5, lambda: [b"GETBIT", k, self.offset()]),
            (6, lambda: [b"BITCOUNT", k] + self.range_args()),
            (6, lambda: [b"BITPOS", k, r.choice(["0", "1", "1", "0", "2", "x"])] + self.range_args()[:r.randint(0, 3)]),
            (4, lambda: [b"BITOP", r.choice(["AND", "OR", "XOR", "NOT", "and", "bad"]), k]
             + [self.key() for _ in range(r.choice([1, 1, 2, 3, 0]))]),
            (8, lambda: self.bitfield(False)),
            (3, lambda: self.bitfield(True)),
            (5, self.lcs),
            (4, self.copy),
            (2, lambda: [b"MOVE", k, r.choice(["0", "1", "2", "15", "16", "-1", "x"])]),
            (1, lambda: [b"SWAPDB", r.choice(["0", "1", "2", "15", "16", "x"]),
                         r.choice(["0", "1", "2", "15", "-1", "x"])]),
            (2, lambda: [b"SELECT", str(r.choice(DBS))]),
            (1, lambda: [b"DBSIZE"]),
            (2, lambda: [b"TTL", k]),
        ]
        total = sum(w for w, _ in choices)
        x = r.uniform(0, total)
        for w, f in choices:
            x -= w
            if x <= 0:
                return f()
        return choices[-1][1]()


def normalize(cmd, rep):
    if cmd[0] == b"TTL" and rep[0] == b":":
        v = int(rep[1])
        return (b":", b"expiring" if v > 0 else rep[1])
    return rep


def state(c, cur_db):
    """Every key and value of every database (debugging only)."""
    out = []
    for db in range(16):
        c.send([["SELECT", str(db)]] + [["GET", k] for k in KEYS])
        out.append([c.reply() for _ in range(len(KEYS) + 1)])
    c.send([["SELECT", cur_db]])
    c.reply()
    return out


def show(x):
    return repr(x if len(repr(x)) < 600 else repr(x)[:600] + "...")


def run(rcached, ops, seed):
    tmp = tempfile.mkdtemp(prefix="bits_diff_")
    rport, oport = free_port(), free_port()
    procs = []
    try:
        logs = [open(os.path.join(tmp, n), "wb") for n in ("redis.log", "rcached.log")]
        op, oc = start(["redis-server", "--port", str(oport), "--bind", "127.0.0.1",
                        "--save", "", "--appendonly", "no", "--dir", tmp,
                        "--protected-mode", "no"], oport, logs[0])
        procs.append(op)
        rp, rc = start([rcached, "--port", str(rport), "--admin-port", "0",
                        "--save", "", "--threads", "2", "--loglevel", "warning"], rport,
                       logs[1])
        procs.append(rp)
        gen = Gen(seed)
        history = []
        done = 0
        debug = os.environ.get("RCACHE_DIFF_DEBUG") == "1"
        batch = 1 if debug else 64
        cur_db = "0"
        while done < ops:
            cmds = [gen.next() for _ in range(min(batch, ops - done))]
            oc.send(cmds)
            rc.send(cmds)
            for c in cmds:
                want = normalize(c, oc.reply())
                got = normalize(c, rc.reply())
                history.append(c)
                if c[0] == b"SELECT" and want == (b"+", b"OK"):
                    cur_db = c[1]
                if debug and want == got and state(oc, cur_db) != state(rc, cur_db):
                    want, got = state(oc, cur_db), state(rc, cur_db)
                if want != got:
                    print("DIFFERENCE after %d commands (seed %d)" % (len(history), seed))
                    for h in history[-15:-1]:
                        print("   ", show(h))
                    print("command: ", show(c))
                    print("redis:   ", show(want))
                    print("rcached: ", show(got))
                    return 1
            done += len(cmds)
        # the final contents of every database agree as well
        for db in range(16):
            for c in (oc, rc):
                c.send([["SELECT", str(db)]] + [["GET", k] for k in KEYS])
            want = [oc.reply() for _ in range(len(KEYS) + 1)]
            got = [rc.reply() for _ in range(len(KEYS) + 1)]
            if want != got:
                print("final contents of db %d differ:\nredis:   %s\nrcached: %s"
                      % (db, show(want), show(got)))
                return 1
        rp.terminate()
        code = rp.wait(DEADLINE_S)  # under ASan a leak makes this non-zero
        if code != 0:
            raise AssertionError("rcached exited with %d" % code)
        print("ok: %d commands, replies identical (seed %d)" % (done, seed))
        return 0
    except Exception:
        for n in ("redis.log", "rcached.log"):
            print("---- %s (tail)" % n)
            print(open(os.path.join(tmp, n), errors="replace").read()[-6000:])
        raise
    finally:
        for p in procs:
            p.terminate()
            p.wait(DEADLINE_S)
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if not shutil.which("redis-server"):
        print("redis-server not installed: skipped")
        return 0
    ops = int(sys.argv[2]) if len(sys.argv) > 2 else 4000
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else int(os.environ.get("RCACHE_DIFF_SEED", "11"))
    return run(sys.argv[1], ops, seed)


if __name__ == "__main__":
    sys.exit(main())
