#!/usr/bin/python3
"""django_redis_test.py - rcached as the cache of a Django project through
django-redis (Debian python3-django-redis), issue 11: cache.lock() (redis-py
Lock: SET NX PX, EVALSHA release/extend) held by one process while others
wait, cache.get_or_set, delete_pattern (SCAN + DEL), a second cache alias
on database 2 kept apart. Settings are Django's test-style in-process
settings. Polls only; no assertion on timing.

Usage: django_redis_test.py <rcached binary>
"""
import multiprocessing as mp
import sys

import django
from rtest import free_port, start
from django.conf import settings

PORT = None


def setup(port):
    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        CACHES={
            "default": {"BACKEND": "django_redis.cache.RedisCache",
                        "LOCATION": "redis://127.0.0.1:%d/0" % port,
                        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"}},
            "other": {"BACKEND": "django_redis.cache.RedisCache",
                      "LOCATION": "redis://127.0.0.1:%d/2" % port},
        })
    django.setup()


def locked_increments(port, n):
    setup(port)
    from django.core.cache import cache
    for _ in range(n):
        with cache.lock("dj-lock", timeout=30, sleep=0.002):
            cache.set("dj-counter", cache.get("dj-counter", 0) + 1, timeout=None)


def main():
    global PORT
    PORT = free_port()
    srv, _ = start([sys.argv[1], "--port", str(PORT), "--admin-port", "0",
                    "--threads", "2", "--loglevel", "warning"], PORT)
    try:
        setup(PORT)
        from django.core.cache import cache, caches
        cache.clear()
        cache.set("dj-counter", 0, timeout=None)
        procs = [mp.Process(target=locked_increments, args=(PORT, 40)) for _ in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
            assert p.exitcode == 0
        assert cache.get("dj-counter") == 160, cache.get("dj-counter")
        calls = []
        assert cache.get_or_set("gos", lambda: calls.append(1) or "computed", 60) == "computed"
        assert cache.get_or_set("gos", lambda: calls.append(1) or "again", 60) == "computed"
        assert calls == [1]
        for i in range(50):
            cache.set("page:%d" % i, i)
        cache.set("keep", 1)
        assert cache.delete_pattern("page:*") == 50
        assert cache.get("keep") == 1 and cache.get("page:3") is None
        other = caches["other"]
        other.set("keep", "db2")
        assert other.get("keep") == "db2" and cache.get("keep") == 1
        with other.lock("l2", timeout=5):
            pass
        print("all ok")
    finally:
        srv.terminate()
        rc = srv.wait(60)
    assert rc == 0, "rcached exited with %d" % rc


if __name__ == "__main__":
    mp.set_start_method("fork")
    main()
