#!/usr/bin/python3
"""rcached_nodes_test.py - three rcached nodes sharing one redis-server
through --l2 (given as a flag, in a config file and in the environment),
driven with redis-py, plus the admin API and /metrics of one of them.

Checks: a SET on A is read on B from the L2, then from B's L1 (INFO tier);
an overwrite on A reaches B and C (the propagation times are printed, not
asserted); DEL and RCACHE.INVALIDATE on C empty A and B; tags: RCACHE.SET
TAGS on A reaches L2 and B's L1 (read-through), RCACHE.TAG.INVALIDATE on C
and the admin API's {"tag"} on B empty the other nodes; redis-server
killed: B keeps answering (fail-open), counts errors and L1 clears, and
reconnects by itself when redis-server is back; the tier's status (state,
address, last error, L1 clears by reason) in INFO tier, /metrics and the
admin API agree; the admin API and /metrics
show the tier's figures. Every wait is a poll with a generous deadline.

Usage: rcached_nodes_test.py <rcached> ; exits 77 without redis-server.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import redis

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
import rtest  # noqa: E402  (tests/server/rtest.py)
from rtest import free_port  # noqa: E402

DEADLINE_S = 60


def poll(fn, what):
    """rtest.poll, a connection error counting as "not yet"."""
    return rtest.poll(fn, what, errors=(redis.exceptions.ConnectionError, OSError))


def info_tier(r):
    return r.info("tier")


def start_redis(port, d):
    return subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", d,
                             "--logfile", os.path.join(d, "redis.log")])


def main():
    binary = sys.argv[1]
    if not shutil.which("redis-server"):
        print("redis-server missing: skipped")
        sys.exit(77)
    d = tempfile.mkdtemp(prefix="rcache-nodes-")
    rport = free_port()
    l2 = "redis://127.0.0.1:%d" % rport
    rs = start_redis(rport, d)
    L2 = redis.Redis(port=rport)
    poll(lambda: L2.ping(), "redis-server")
    ports = [free_port() for _ in range(3)]
    admin_port = free_port()
    conf = os.path.join(d, "b.conf")
    with open(conf, "w") as f:
        f.write('l2 "%s"\n' % l2)
    common = ["--loglevel", "warning", "--threads", "2"]
    env_c = dict(os.environ, RCACHED_L2=l2)
    nodes = [
        subprocess.Popen([binary, "--port", str(ports[0]), "--admin-port", "0", "--l2", l2]
                         + common),
        subprocess.Popen([binary, conf, "--port", str(ports[1]), "--admin-port",
                          str(admin_port), "--admin-token", "t0ken"] + common),
        subprocess.Popen([binary, "--port", str(ports[2]), "--admin-port", "0"] + common,
                         env=env_c),
    ]
    A, B, C = (redis.Redis(port=p) for p in ports)
    try:
        for n in (A, B, C):
            poll(lambda: n.ping() and info_tier(n)["tier_connected"] == 1, "node up")

        # The L2 URL may hold a password: CONFIG GET does not show it.
        assert A.config_get("l2") == {} and "l2-prefix" in A.config_get("l2*")

        # Read-through on B: L2 first, then L1.
        assert A.set("greeting", "hello")
        assert L2.get("rc:greeting") == b"hello"
        poll(lambda: info_tier(B)["tier_invalidations"] >= 1, "B hears A's write")
        assert B.get("greeting") == b"hello"
        assert info_tier(B)["tier_l2_hits"] == 1
        assert B.get("greeting") == b"hello"
        assert info_tier(B)["tier_l2_hits"] == 1, "second read must come from L1"

        # Overwrites on A reach B and C.
        lat = []
        prev = b"hello"
        C.get("greeting")
        for i in range(50):
            v = ("v%d" % i).encode()
            t0 = time.monotonic()
            assert A.set("greeting", v)
            for n in (B, C):
                poll(lambda: n.get("greeting") == v, "new value on a node")
                lat.append(time.monotonic() - t0)
            prev = v
        lat.sort()
        print("propagation (write on A to read of the new value on B/C, "
              "via redis-py): p50 %.2f ms, p90 %.2f ms, max %.2f ms"
              % (lat[len(lat) // 2] * 1e3, lat[len(lat) * 9 // 10] * 1e3, lat[-1] * 1e3))
        assert prev

        # DEL and pattern invalidation on C.
        for k in ("user:1", "user:2", "page:1"):
            A.set(k, "x")
        for k in ("user:1", "user:2", "page:1"):
            poll(lambda: B.get(k) == b"x", "B reads " + k)
        assert C.delete("user:1") == 1
        poll(lambda: A.get("user:1") is None and B.get("user:1") is None, "DEL propagates")
        assert C.execute_command("RCACHE.INVALIDATE", "user:*") >= 1
        poll(lambda: A.get("user:2") is None and B.get("user:2") is None,
             "invalidation propagates")
        assert B.get("page:1") == b"x"
        assert L2.exists("rc:user:2", "rc:page:1") == 1

        # Other writing commands run on L1, then reach the L2 and the nodes.
        assert A.set("n", "1") and B.get("n") == b"1"
        assert A.incr("n") == 2
        poll(lambda: B.get("n") == b"2", "INCR reaches B")
        assert A.append("n", "0") == 2
        poll(lambda: B.get("n") == b"20", "APPEND reaches B")
        assert A.rename("n", "m")
        poll(lambda: B.get("n") is None and B.get("m") == b"20", "RENAME reaches B")
        assert L2.get("rc:m") == b"20" and L2.exists("rc:n") == 0
        assert A.expire("m", 1000)
        assert 0 < L2.pttl("rc:m") <= 1000 * 1000

        # Tags through the tier: RCACHE.SET ... TAGS on A records them in
        # L2, a read-through on B brings them into B's L1 (RCACHE.TAGS reads
        # L1 only), RCACHE.TAG.INVALIDATE on C empties A's and B's L1 and
        # the L2 of the tagged keys; untagged and other-tag keys survive.
        def l1_tags(n, k):
            t = n.execute_command("RCACHE.TAGS", k)
            return None if t is None else sorted(t)
        assert A.execute_command("RCACHE.SET", "t:1", "one", "TAGS", "img:42", "user:7")
        assert A.execute_command("RCACHE.SET", "t:2", "two", "EX", "100", "TAGS", "img:42")
        assert A.execute_command("RCACHE.SET", "t:3", "three", "TAGS", "user:7")
        assert A.set("t:4", "four")
        assert L2.get("rc:t:1") == b"one" and L2.get("rc:t:2") == b"two"
        assert L2.smembers(b"\xfftag:rc:img:42") == {b"t:1", b"t:2"}
        assert 0 < L2.pttl(b"\xffktags:rc:t:2") <= 100000
        for k, v in (("t:1", b"one"), ("t:2", b"two"), ("t:3", b"three"), ("t:4", b"four")):
            poll(lambda: B.get(k) == v, "B reads " + k)

        # A node may empty its whole L1 at any moment (fail-safe: a missed
        # bus ping on a loaded machine), so tags are read right after a
        # read, which brings them back from L2 if that happened.
        def tags_after_read(n, k, v):
            return l1_tags(n, k) if n.get(k) == v else "read failed"
        for k, v, want in (("t:1", b"one", [b"img:42", b"user:7"]), ("t:2", b"two", [b"img:42"]),
                           ("t:4", b"four", [])):
            poll(lambda: tags_after_read(B, k, v) == want, "%s's tags on B" % k)
        assert C.execute_command("RCACHE.TAG.INVALIDATE", "img:42") == 2
        assert L2.exists("rc:t:1", "rc:t:2") == 0
        poll(lambda: l1_tags(A, "t:1") is None and l1_tags(A, "t:2") is None,
             "tag invalidation reaches A's L1")
        poll(lambda: l1_tags(B, "t:1") is None and l1_tags(B, "t:2") is None,
             "tag invalidation reaches B's L1")
        poll(lambda: tags_after_read(B, "t:3", b"three") == [b"user:7"] and
             B.get("t:4") == b"four", "untagged and other-tag keys survive on B")
        assert L2.smembers(b"\xfftag:rc:user:7") == {b"t:3"}
        # In-place changes keep the tags in L2 too.
        assert A.execute_command("RCACHE.SET", "ctr", "1", "TAGS", "counters")
        assert A.incr("ctr") == 2
        poll(lambda: L2.get("rc:ctr") == b"2", "INCR reaches L2")
        assert L2.smembers(b"\xffktags:rc:ctr") == {b"counters"}

        # Admin API and /metrics on B.
        req = urllib.request.Request("http://127.0.0.1:%d/api/cache/stats" % admin_port,
                                     headers={"Authorization": "Bearer t0ken"})
        st = json.load(urllib.request.urlopen(req, timeout=30))
        tier = st["stats"]["tier"]
        assert tier["connected"] is True and tier["l2_hits"] >= 1, tier
        m = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % admin_port,
                                   timeout=30).read().decode()
        assert "rcache_tier_l2_hits_total " in m and "rcache_tier_connected 1" in m
        # The tier panel's status fields, in INFO tier and /metrics too.
        t = info_tier(B)
        addr = "redis://127.0.0.1:%d/0" % rport
        assert t["tier_state"] == "connected" == tier["state"], (t, tier)
        assert t["tier_address"] == addr == tier["address"], (t, tier)
        assert t["tier_auth"] == 0
        for reason in ("bus_lost", "data_lost", "resync", "flushall"):
            assert t["tier_l1_clears_" + reason] == tier["l1_clears"][reason], (t, tier)
        assert 'rcache_tier_state{state="connected"} 1\n' in m, m
        assert 'rcache_tier_state{state="reconnecting"} 0\n' in m, m
        assert 'rcache_tier_info{address="%s",auth="false"} 1\n' % addr in m, m
        assert 'rcache_tier_l1_clears_total{reason="bus_lost"} ' in m, m

        # The admin API's invalidate and delete on B reach A and the L2 too.
        A.set("img:7:thumb", "t")
        A.set("img:8:thumb", "t")
        poll(lambda: B.get("img:7:thumb") == b"t", "B reads img:7")
        req = urllib.request.Request(
            "http://127.0.0.1:%d/api/cache/invalidate" % admin_port,
            data=json.dumps({"pattern": "img:7:*"}).encode(), method="POST",
            headers={"Authorization": "Bearer t0ken", "Content-Type": "application/json"})
        assert json.load(urllib.request.urlopen(req, timeout=30))["removed"] >= 1
        poll(lambda: A.get("img:7:thumb") is None, "admin invalidate reaches A")
        assert L2.exists("rc:img:7:thumb") == 0
        req = urllib.request.Request(
            "http://127.0.0.1:%d/api/cache/entries/img:8:thumb" % admin_port,
            method="DELETE", headers={"Authorization": "Bearer t0ken"})
        assert json.load(urllib.request.urlopen(req, timeout=30))["deleted"] is True
        poll(lambda: A.get("img:8:thumb") is None, "admin delete reaches A")

        # The admin API's tag invalidation on B reaches A and the L2.
        poll(lambda: A.get("t:3") == b"three", "A holds t:3")
        req = urllib.request.Request(
            "http://127.0.0.1:%d/api/cache/invalidate" % admin_port,
            data=json.dumps({"tag": "user:7"}).encode(), method="POST",
            headers={"Authorization": "Bearer t0ken", "Content-Type": "application/json"})
        assert json.load(urllib.request.urlopen(req, timeout=30))["removed"] == 1
        assert L2.exists("rc:t:3") == 0
        poll(lambda: l1_tags(A, "t:3") is None, "admin tag invalidation reaches A")

        # FLUSHALL on a node empties every node and the prefix in L2.
        A.set("f1", "x")
        poll(lambda: C.get("f1") == b"x", "C reads f1")
        assert B.flushall()
        poll(lambda: A.get("f1") is None and C.get("f1") is None, "FLUSHALL propagates")
        assert L2.keys("rc:*") == []
        assert L2.smembers(b"\xfftag:rc:counters") == set()

        # redis-server killed: B serves on (fail-open), then reconnects.
        A.set("page:1", "x")
        poll(lambda: B.get("page:1") == b"x", "B holds page:1 from L2")
        rs.kill()
        rs.wait()
        poll(lambda: info_tier(B)["tier_connected"] == 0, "B notices")
        poll(lambda: B.get("page:1") is None, "B drops what came from L2")
        assert B.set("local", "L")
        assert B.get("local") == b"L"
        t = info_tier(B)
        assert t["tier_l2_errors"] >= 1 and t["tier_l1_flushes_conn"] >= 1, t
        # The status fields while the L2 is down (it stays down until
        # restarted below, so the state cannot move on meanwhile).
        assert t["tier_state"] == "reconnecting", t
        assert t["tier_last_error"] != "" and t["tier_last_error_age_ms"] >= 0, t
        assert t["tier_l1_clears_bus_lost"] + t["tier_l1_clears_data_lost"] >= 1, t
        assert t["tier_last_l1_clear_reason"] in ("bus_lost", "data_lost"), t
        assert t["tier_last_l1_clear_age_ms"] >= 0, t
        m = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % admin_port,
                                   timeout=30).read().decode()
        assert 'rcache_tier_state{state="reconnecting"} 1\n' in m, m
        assert 'rcache_tier_state{state="connected"} 0\n' in m, m
        assert 'rcache_tier_last_error_info{error="' in m, m
        assert "\nrcache_tier_last_error_age_seconds " in m, m
        assert 'rcache_tier_last_l1_clear_age_seconds{reason="' in m, m
        req = urllib.request.Request("http://127.0.0.1:%d/api/cache/stats" % admin_port,
                                     headers={"Authorization": "Bearer t0ken"})
        tier = json.load(urllib.request.urlopen(req, timeout=30))["stats"]["tier"]
        assert tier["state"] == "reconnecting" and tier["last_error"], tier
        rs = start_redis(rport, d)
        poll(lambda: L2.ping(), "redis-server back")
        for n in (A, B, C):
            poll(lambda: info_tier(n)["tier_connected"] == 1, "node reconnects")
        assert A.set("after", "yes")
        poll(lambda: B.get("after") == b"yes", "B reads through again")
        assert info_tier(B)["tier_reconnects"] >= 1
        assert info_tier(B)["tier_state"] == "connected"
    finally:
        for p in nodes:
            p.terminate()
        rcs = [p.wait(DEADLINE_S) for p in nodes]
        rs.kill()
        rs.wait()
        shutil.rmtree(d, ignore_errors=True)
    assert rcs == [0, 0, 0], rcs
    print("all ok")


if __name__ == "__main__":
    main()
