#!/usr/bin/python3
"""redis_conf_test.py - rcached started from a stock redis.conf and with
redis-server's flag spellings (issue 11, "redis.conf compatibility"):

- Debian's /etc/redis/redis.conf (package redis-server), copied into a
  temporary directory with only its port, dir, pidfile and logfile lines
  rewritten, starts rcached: it answers PING on 127.0.0.1, writes the
  pidfile (removed at exit), applies what it can (client-output-buffer-limit
  normal 0 0 0 -> 0) and logs each not-applicable directive exactly once;
- an unknown directive still stops start-up with the file, line and name;
  a directive rcached must not silently ignore (appendonly yes,
  rename-command, replicaof) stops it with the reason;
- several `save` lines add up, as in Redis;
- redis-server's flags: --save "", --save 900 1 300 10, --port,
  --maxmemory 100mb, --maxmemory-policy, --daemonize no, --bind a -b;
- CONFIG REWRITE keeps comments and other lines, rewrites the runtime
  options in place (two save lines become one), appends the others that
  left their defaults, and the file starts the server the same way.

Usage: redis_conf_test.py <rcached binary>
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import redis

from rtest import DEADLINE_S, free_port

STOCK = "/etc/redis/redis.conf"


def start(argv, port):
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    r = redis.Redis(host="127.0.0.1", port=port)
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        try:
            if r.ping():
                return p, r
        except redis.exceptions.ConnectionError:
            if p.poll() is not None:
                raise AssertionError("rcached exited: " + p.stdout.read().decode())
        time.sleep(0.02)
    raise AssertionError("rcached did not start")


def stop(p):
    p.send_signal(signal.SIGTERM)
    assert p.wait(DEADLINE_S) == 0, "rcached exit status %s" % p.returncode


def refused(binary, conf_text, tmp, *want):
    path = os.path.join(tmp, "bad.conf")
    with open(path, "w") as f:
        f.write(conf_text)
    res = subprocess.run([binary, path, "--admin-port", "0"], capture_output=True,
                         timeout=DEADLINE_S)
    out = res.stderr.decode()
    assert res.returncode != 0, "started with a bad config: " + conf_text
    for w in want:
        assert w in out, (w, out)


def test_stock_conf(binary, tmp):
    if not os.path.exists(STOCK):
        print("skipped stock redis.conf: %s missing (Debian package redis-server)" % STOCK)
        return
    port = free_port()
    with open(STOCK) as f:
        text = f.read()
    subs = {"port": str(port), "dir": tmp, "pidfile": os.path.join(tmp, "r.pid"),
            "logfile": os.path.join(tmp, "r.log")}
    for k, v in subs.items():
        text, n = re.subn(r"(?m)^%s .*$" % k, "%s %s" % (k, v), text)
        assert n == 1, k
    conf = os.path.join(tmp, "redis.conf")
    with open(conf, "w") as f:
        f.write(text)
    p, r = start([binary, conf, "--admin-port", "0"], port)
    try:
        assert r.ping()
        with open(subs["pidfile"]) as f:
            assert int(f.read()) == p.pid
        assert (r.config_get("client-output-buffer-limit")["client-output-buffer-limit"] ==
                "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60")
        assert r.config_get("dir")["dir"] == tmp
        r.set("k", "v")
        assert r.get("k") == b"v"
    finally:
        stop(p)
    assert not os.path.exists(subs["pidfile"]), "pidfile left behind"
    with open(subs["logfile"]) as f:
        log = f.read()
    for name in ("daemonize", "protected-mode", "appendonly", "hz", "jemalloc-bg-thread",
                 "replica-read-only"):
        hits = log.count("Config directive '%s' ignored: not applicable" % name)
        assert hits == 1, (name, hits)
    print("ok stock %s starts rcached" % STOCK)


def test_refusals(binary, tmp):
    refused(binary, "port 0\nfoo-bar 1\n", tmp, "line 2", "foo-bar")
    refused(binary, "appendonly yes\n", tmp, "line 1", "AOF")
    refused(binary, "rename-command CONFIG \"\"\n", tmp, "line 1", "rename-command")
    refused(binary, "replicaof 10.0.0.1 6379\n", tmp, "replication")
    refused(binary, "databases 4\n", tmp, "16 databases")
    refused(binary, "maxmemory-policy sometimes\n", tmp, "maxmemory-policy")
    print("ok unknown and refused directives stop start-up")


def test_save_lines_and_flags(binary, tmp):
    port = free_port()
    conf = os.path.join(tmp, "save.conf")
    with open(conf, "w") as f:
        f.write("save 900 1\nsave 300 10\nbusy-reply-threshold 1234\n")
    p, r = start([binary, conf, "--port", str(port), "--admin-port", "0"], port)
    try:
        assert r.config_get("save")["save"] == "900 1 300 10"
        assert r.config_get("lua-time-limit")["lua-time-limit"] == "1234"
    finally:
        stop(p)
    port = free_port()
    p, r = start([binary, "--port", str(port), "--admin-port", "0", "--save", "",
                  "--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru",
                  "--daemonize", "no", "--bind", "127.0.0.1", "-::1"], port)
    try:
        assert r.config_get("save")["save"] == ""
        assert r.config_get("maxmemory")["maxmemory"] == str(100 * 1024 * 1024)
    finally:
        stop(p)
    port = free_port()
    p, r = start([binary, "--port", str(port), "--admin-port", "0",
                  "--save", "900", "1", "300", "10", "--appendonly", "no"], port)
    try:
        assert r.config_get("save")["save"] == "900 1 300 10"
    finally:
        stop(p)
    print("ok save lines add up; redis-server flag spellings")


def test_config_rewrite(binary, tmp):
    port = free_port()
    conf = os.path.join(tmp, "rw.conf")
    with open(conf, "w") as f:
        f.write("# my settings\nport %d\nmaxmemory 100mb\nsave 900 1\nsave 300 10\n"
                "daemonize no\nadmin-port 0\n" % port)
    p, r = start([binary, conf], port)
    try:
        r.config_set("maxmemory", "200mb")
        r.config_set("timeout", "30")
        r.config_set("save", "60 5")
        assert r.config_rewrite()
    finally:
        stop(p)
    with open(conf) as f:
        text = f.read()
    lines = text.splitlines()
    assert lines[:6] == ["# my settings", "port %d" % port, "maxmemory 209715200",
                         "save \"60 5\"", "daemonize no", "admin-port 0"], lines
    assert "# Generated by CONFIG REWRITE" in lines and "timeout 30" in lines, lines
    # the rewritten file starts the server with the same settings
    p, r = start([binary, conf], port)
    try:
        cfg = r.config_get("*")
        assert cfg["maxmemory"] == str(200 << 20) and cfg["timeout"] == "30"
        assert cfg["save"] == "60 5"
    finally:
        stop(p)
    # without a config file: Redis's error
    port = free_port()
    p, r = start([binary, "--port", str(port), "--admin-port", "0"], port)
    try:
        r.config_rewrite()
        raise AssertionError("CONFIG REWRITE without a file")
    except redis.exceptions.ResponseError as e:
        assert "The server is running without a config file" in str(e)
    finally:
        stop(p)
    print("ok CONFIG REWRITE")


def main():
    binary = sys.argv[1]
    tmp = tempfile.mkdtemp()
    try:
        test_stock_conf(binary, tmp)
        test_refusals(binary, tmp)
        test_save_lines_and_flags(binary, tmp)
        test_config_rewrite(binary, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("redis_conf_test: all passed")


if __name__ == "__main__":
    main()
