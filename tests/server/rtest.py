"""rtest.py - what the Python server tests share: a free TCP port, a poll
with a generous deadline (waits on a condition; never an assertion on
timing), and starting a server until it answers PING.

Imported by the test scripts next to it (their directory is on sys.path
when run as `/usr/bin/python3 tests/server/NAME_test.py`).
"""
import random
import socket
import os
import subprocess
import time

import redis

DEADLINE_S = 60  # generous bound on polls; never an assertion on timing


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        lo = 32768
    return lo if lo > 12000 else 32768


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago, drawn below the
    kernel's ephemeral range: a port the kernel hands out (bind to 0) can
    be taken by another test's outgoing connection before the server binds
    it (seen: "Address already in use" under a loaded make test)."""
    lo = _ephemeral_low()
    for _ in range(500):
        p = random.randrange(10000, lo)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            continue
        finally:
            s.close()
        return p
    raise AssertionError("no free TCP port below %d" % lo)


def poll(fn, what, errors=()):
    """fn()'s first truthy value, polled every 10 ms for up to DEADLINE_S;
    an exception of a class in `errors` (e.g. a connection refused while a
    server restarts) counts as a falsy value. AssertionError naming `what`
    when the deadline passes."""
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        try:
            v = fn()
        except errors:
            v = None
        if v:
            return v
        time.sleep(0.01)
    raise AssertionError("timed out waiting for " + what)


def start(argv, port, **client_kw):
    """Start argv (a server listening on port) and wait until it answers
    PING; (process, redis.Redis(**client_kw)). Fails at once if it exits."""
    p = subprocess.Popen(argv)
    r = redis.Redis(host="127.0.0.1", port=port, **client_kw)

    def up():
        try:
            return r.ping()
        except redis.exceptions.ConnectionError:
            assert p.poll() is None, "%s exited with %s" % (argv[0], p.returncode)
            return False
    poll(up, "%s to start" % argv[0])
    try:
        check_engine(argv, r)
    except AssertionError:
        p.kill()
        p.wait()
        raise
    return p, r


def check_engine(argv, r):
    """CTest's *_uring variants set RCACHED_IO_ENGINE=uring and
    RCACHE_EXPECT_ENGINE=io_uring: fail if the server runs another engine
    (not for redis-server, a test's own --io-engine, or a server wanting
    AUTH)."""
    want = os.environ.get("RCACHE_EXPECT_ENGINE")
    if not want or "--io-engine" in argv or "redis-server" in os.path.basename(argv[0]):
        return
    try:
        got = r.info("server").get("multiplexing_api")
    except (redis.exceptions.ResponseError, redis.exceptions.AuthenticationError):
        return
    assert got == want, "RCACHE_EXPECT_ENGINE=%s but the server runs %s" % (want, got)
