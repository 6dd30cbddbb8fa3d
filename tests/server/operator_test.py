#!/usr/bin/python3
"""operator_test.py - rcached's operator commands against redis-server 7.0
as the oracle (when installed), with redis-py and raw sockets:

- CONFIG SET with several pairs: all applied, or none (a bad value, an
  unknown name or a duplicate leaves every setting as it was), Redis's
  error texts;
- CLIENT REPLY ON|OFF|SKIP: the exact bytes a pipelined sequence gets back
  are the same as redis-server's;
- CLIENT INFO / CLIENT LIST: Redis's field names in Redis's order; db,
  name, flags (x in MULTI, e with NO-EVICT) and multi as the client stands;
- SLOWLOG GET|LEN|RESET with slowlog-log-slower-than 0 / -1 and
  slowlog-max-len, entries shaped as Redis's (long arguments and long
  argument lists cut the same way as redis-server cuts them);
- LATENCY LATEST|HISTORY|RESET (a DEBUG SLEEP over the threshold);
- INFO server / clients / cpu: every field redis-server shows is there;
- MEMORY STATS and MEMORY USAGE;
- CLIENT PAUSE WRITE holds writers (not readers) until CLIENT UNPAUSE;
  CLIENT PAUSE ALL with a timeout; their error texts;
- MONITOR shows other clients' commands in Redis's format;
- HELLO 2 with AUTH and SETNAME, and its errors, as redis-server.

No assertion is on time: DEBUG SLEEP is only ever a lower bound, and
"still held" is checked after a pause, never "finished within".

Usage: operator_test.py <rcached binary>
"""
import shutil
import socket
import sys
import tempfile
import threading
import time

import redis
from redis.exceptions import ResponseError

from rtest import DEADLINE_S, free_port, start


def start_decoded(argv, port):
    return start(argv, port, decode_responses=True)


# Redis 7.0's CLIENT INFO fields, in order.
CLIENT_FIELDS = ["id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "sub",
                 "psub", "ssub", "multi", "qbuf", "qbuf-free", "argv-mem", "multi-mem",
                 "rbs", "rbp", "obl", "oll", "omem", "tot-mem", "events", "cmd", "user",
                 "redir", "resp"]

ERROR_CASES = [
    ("CONFIG", "SET", "maxmemory", "10mb", "maxmemory", "20mb"),
    ("CONFIG", "SET", "maxmemory", "10mb", "nosuchoption", "1"),
    ("CONFIG", "SET", "maxmemory", "10mb", "timeout"),
    ("CONFIG", "SET", "maxmemory"),
    ("CLIENT", "PAUSE", "x"),
    ("CLIENT", "PAUSE", "-1"),
    ("CLIENT", "PAUSE", "10", "sometimes"),
    ("CLIENT", "REPLY", "maybe"),
    ("CLIENT", "NO-EVICT", "maybe"),
    ("SLOWLOG", "GET", "x"),
    ("SLOWLOG", "GET", "-2"),
    ("SLOWLOG", "NOSUCH"),
    ("LATENCY", "NOSUCH"),
    ("HELLO", "4"),
    ("HELLO", "x"),
    ("HELLO", "2", "SETNAME", "a b"),
    ("HELLO", "2", "foo"),
    ("HELLO", "2", "AUTH", "default"),
    ("MEMORY", "NOSUCH"),
]


def err_of(r, cmd):
    try:
        r.execute_command(*cmd)
    except ResponseError as e:
        return str(e)
    return None


def raw_exchange(port, payload, want_bytes):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(DEADLINE_S)
    s.sendall(payload)
    got = b""
    while len(got) < want_bytes:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    s.close()
    return got


def test_config_set(r):
    r.config_set("timeout", 0)
    assert r.execute_command("CONFIG", "SET", "maxmemory", "10mb", "timeout", "7") in (True, "OK")
    cfg = r.config_get("*")
    assert cfg["maxmemory"] == str(10 * 1024 * 1024) and cfg["timeout"] == "7"
    for bad in (("maxmemory", "20mb", "timeout", "abc"),
                ("maxmemory", "20mb", "nosuchoption", "1"),
                ("maxmemory", "20mb", "timeout", "8", "maxmemory", "30mb")):
        try:
            r.execute_command("CONFIG", "SET", *bad)
            raise AssertionError("accepted " + repr(bad))
        except ResponseError:
            pass
        cfg = r.config_get("*")
        assert cfg["maxmemory"] == str(10 * 1024 * 1024) and cfg["timeout"] == "7", bad
    r.config_set("timeout", 0)
    r.config_set("maxmemory", "512mb")
    print("ok CONFIG SET: several pairs, all or nothing")


def test_errors(r, oracle):
    if oracle is None:
        print("skipped error-text comparison: no redis-server")
        return
    bad = []
    for cmd in ERROR_CASES:
        a, b = err_of(r, cmd), err_of(oracle, cmd)
        if a != b:
            bad.append((cmd, a, b))
    for cmd, a, b in bad:
        print("DIFF", cmd, "\n  rcached:", a, "\n  redis:  ", b)
    assert not bad, "%d error replies differ" % len(bad)
    print("ok error texts as redis-server (%d commands)" % len(ERROR_CASES))


def test_client_reply(port, oport):
    seq = (b"CLIENT REPLY OFF\r\nSET cr 1\r\nEVAL \"return 7\" 0\r\nCLIENT REPLY ON\r\n"
           b"CLIENT REPLY SKIP\r\nEVAL \"return 8\" 0\r\nGET cr\r\n"
           b"CLIENT REPLY SKIP\r\nGET cr\r\nPING\r\nCLIENT REPLY SKIP\r\nCLIENT REPLY ON\r\n"
           b"ECHO end\r\n")
    want = b"+OK\r\n$1\r\n1\r\n+PONG\r\n+OK\r\n$3\r\nend\r\n"
    got = raw_exchange(port, seq, len(want))
    assert got == want, got
    if oport:
        assert raw_exchange(oport, seq, len(want)) == got
    print("ok CLIENT REPLY ON|OFF|SKIP (same bytes as redis-server)")


def client_fields(line):
    return [kv.split("=", 1)[0] for kv in line.strip().split(" ")]


def test_client_list(r, port, oracle):
    c = redis.Redis(host="127.0.0.1", port=port, db=3, decode_responses=True,
                    client_name="watched")
    c.ping()
    info = r.execute_command("CLIENT", "INFO")
    assert client_fields(info) == CLIENT_FIELDS, client_fields(info)
    if oracle is not None:
        assert client_fields(oracle.execute_command("CLIENT", "INFO")) == CLIENT_FIELDS
    mine = {d["name"]: d for d in r.client_list()}["watched"]
    assert mine["db"] == "3" and mine["flags"] == "N" and mine["multi"] == "-1", mine
    # in MULTI with two queued commands, and NO-EVICT on: as another client sees it
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(DEADLINE_S)
    s.sendall(b"CLIENT SETNAME inmulti\r\nCLIENT NO-EVICT on\r\nMULTI\r\nSET a 1\r\nGET a\r\n")
    want = b"+OK\r\n+OK\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n"
    got = b""
    while len(got) < len(want):
        got += s.recv(4096)
    assert got == want, got
    m = {d["name"]: d for d in r.client_list()}["inmulti"]
    assert m["flags"] == "xe" and m["multi"] == "2", m
    s.close()
    c.close()
    print("ok CLIENT INFO/LIST: Redis's fields, db, flags, multi")


def slow_args(srv, cmd):
    srv.config_set("slowlog-log-slower-than", 0)
    srv.execute_command(*cmd)
    srv.config_set("slowlog-log-slower-than", -1)
    return srv.execute_command("SLOWLOG", "GET", "1")[0][3]


def test_slowlog(r, oracle):
    r.config_set("slowlog-log-slower-than", -1)
    r.slowlog_reset()
    r.set("k", "v")
    assert r.slowlog_len() == 0
    r.config_set("slowlog-log-slower-than", 0)
    r.execute_command("DEBUG", "SLEEP", "0")
    r.config_set("slowlog-log-slower-than", -1)
    e = r.execute_command("SLOWLOG", "GET")
    # the CONFIG SET that turned it off is not recorded (the threshold is
    # read after the command, as Redis)
    assert [x[3] for x in e] == [["DEBUG", "SLEEP", "0"]], e
    entry = e[0]
    assert len(entry) == 6 and isinstance(entry[0], int) and entry[1] > 1600000000
    assert entry[2] >= 0 and entry[4].startswith("127.0.0.1:") and entry[5] == ""
    r.config_set("slowlog-max-len", 2)
    r.config_set("slowlog-log-slower-than", 0)
    for i in range(5):
        r.get("k%d" % i)
    r.config_set("slowlog-log-slower-than", -1)
    assert r.slowlog_len() == 2
    assert r.execute_command("SLOWLOG", "RESET") in (True, "OK") and r.slowlog_len() == 0
    r.config_set("slowlog-max-len", 128)
    # a script is recorded once, with its run on the script thread
    r.config_set("slowlog-log-slower-than", 0)
    r.eval("local i = 0 while i < 100000 do i = i + 1 end return i", 0)
    r.config_set("slowlog-log-slower-than", -1)
    evals = [x for x in r.execute_command("SLOWLOG", "GET", "-1") if x[3][0].lower() == "eval"]
    assert len(evals) == 1 and evals[0][2] > 0, evals
    long_cmds = [("SET", "big", "x" * 200), ("MGET",) + tuple("k%d" % i for i in range(40))]
    mine = [slow_args(r, cmd) for cmd in long_cmds]
    assert mine[0][2] == "x" * 128 + "... (72 more bytes)", mine[0]
    assert len(mine[1]) == 32 and mine[1][-1] == "... (10 more arguments)", mine[1]
    if oracle is not None:
        assert mine == [slow_args(oracle, cmd) for cmd in long_cmds]
    r.config_set("slowlog-log-slower-than", 10000)
    print("ok SLOWLOG GET/LEN/RESET, thresholds, max-len, argument cuts as redis-server")


def test_latency(r):
    r.execute_command("LATENCY", "RESET")
    r.config_set("latency-monitor-threshold", 1)
    r.execute_command("DEBUG", "SLEEP", "0.02")
    r.config_set("latency-monitor-threshold", 0)
    latest = r.execute_command("LATENCY", "LATEST")
    ev = {x[0]: x for x in latest}
    assert "command" in ev and ev["command"][2] >= 20 and ev["command"][3] >= 20, latest
    hist = r.execute_command("LATENCY", "HISTORY", "command")
    assert len(hist) >= 1 and hist[-1][1] >= 20, hist
    assert r.execute_command("LATENCY", "HISTORY", "nosuch") == []
    assert r.execute_command("LATENCY", "RESET", "command", "nosuch") == 1
    assert "command" not in {x[0] for x in r.execute_command("LATENCY", "LATEST")}
    print("ok LATENCY LATEST/HISTORY/RESET")


def test_info_memory(r, oracle):
    for section in ("server", "clients", "cpu"):
        mine = r.info(section)
        for k in ("used_cpu_sys", "used_cpu_user", "used_cpu_sys_children",
                  "used_cpu_user_children") if section == "cpu" else ():
            assert k in mine, k
        if oracle is not None:
            missing = set(oracle.info(section)) - set(mine)
            assert not missing, (section, missing)
    r.flushall()
    r.set("m1", "v" * 100)
    st = r.execute_command("MEMORY", "STATS")
    st = dict(zip(st[::2], st[1::2]))
    for k in ("peak.allocated", "total.allocated", "keys.count", "dataset.bytes",
              "overhead.total", "fragmentation"):
        assert k in st, k
    assert st["keys.count"] == 1 and st["dataset.bytes"] >= 100
    assert r.memory_usage("m1") >= 100 and r.memory_usage("nokey") is None
    print("ok INFO server/clients/cpu fields; MEMORY STATS/USAGE")


def test_pause(r, port):
    r.set("p", "before")
    a = redis.Redis(host="127.0.0.1", port=port, decode_responses=True)
    assert a.execute_command("CLIENT", "PAUSE", "100000", "WRITE") in (True, "OK")
    assert r.info("clients")["client_pause"] == "write"
    done = []
    t = threading.Thread(target=lambda: done.append(
        redis.Redis(host="127.0.0.1", port=port).set("p", "after")))
    t.start()
    assert r.get("p") == "before"       # reads go on
    time.sleep(0.2)                     # the writer is still held (never a timing bound)
    assert not done and r.get("p") == "before"
    assert a.execute_command("CLIENT", "UNPAUSE") in (True, "OK")
    t.join(DEADLINE_S)
    assert done == [True] and r.get("p") == "after"
    # ALL with a short timeout: a client waits, then gets its answer
    a.execute_command("CLIENT", "PAUSE", "50", "ALL")
    assert redis.Redis(host="127.0.0.1", port=port).ping()
    print("ok CLIENT PAUSE WRITE|ALL, UNPAUSE")


def test_monitor(r, port):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(DEADLINE_S)
    s.sendall(b"MONITOR\r\n")
    got = b""
    while b"+OK\r\n" not in got:
        got += s.recv(4096)
    r.set("mon key", 'quote"d\n')
    while b"mon key" not in got:
        got += s.recv(4096)
    line = [x for x in got.split(b"\r\n") if b"mon key" in x][0]
    assert line.startswith(b"+") and line.endswith(b'"SET" "mon key" "quote\\"d\\n"'), line
    assert b" [0 127.0.0.1:" in line, line
    s.close()
    print("ok MONITOR")


def main():
    binary = sys.argv[1]
    port = free_port()
    procs, tmp = [], tempfile.mkdtemp()
    try:
        p, r = start_decoded([binary, "--port", str(port), "--admin-port", "0", "--threads", "2",
                      "--loglevel", "warning", "--enable-debug-command", "yes"], port)
        procs.append(p)
        oracle, oport = None, None
        if shutil.which("redis-server"):
            oport = free_port()
            p, oracle = start_decoded(["redis-server", "--port", str(oport), "--save", "",
                               "--appendonly", "no", "--dir", tmp, "--loglevel", "warning",
                               "--enable-debug-command", "yes"], oport)
            procs.append(p)
        test_config_set(r)
        test_errors(r, oracle)
        test_client_reply(port, oport)
        test_client_list(r, port, oracle)
        test_slowlog(r, oracle)
        test_latency(r)
        test_info_memory(r, oracle)
        test_pause(r, port)
        test_monitor(r, port)
    finally:
        for p in procs:
            p.terminate()
            p.wait(DEADLINE_S)
        shutil.rmtree(tmp, ignore_errors=True)
    # rcached stops cleanly (a sanitizer finding would make it fail)
    assert procs[0].returncode == 0, "rcached exit status %s" % procs[0].returncode
    print("operator_test: all passed")


if __name__ == "__main__":
    main()
