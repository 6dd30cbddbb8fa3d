"""rcache.Cache: by-reference storage, TTL on an injected clock, both
limits, size estimation, stats, entries, pattern invalidation."""
import array
import sys

import pytest

import rcache


def test_by_reference_and_mapping(cache):
    o = object()
    cache["k"] = o
    assert cache["k"] is o
    assert "k" in cache and "x" not in cache
    assert len(cache) == 1
    assert list(cache) == ["k"]
    del cache["k"]
    with pytest.raises(KeyError):
        cache["k"]
    with pytest.raises(KeyError):
        del cache["k"]


def test_bytes_and_str_keys_are_the_same_bytes(cache):
    cache.set("é", 1)
    assert cache.get("é".encode()) == 1
    cache.set(b"\x00\xff", 2)
    assert cache.get(b"\x00\xff") == 2
    (e,) = [x for x in cache.get_entries() if x["key_encoding"] == "base64"]
    assert e["key"] == "AP8="


def test_ttl_with_manual_clock(cache, clock):
    cache.set("a", 1, ttl_seconds=10)
    cache.set("b", 2)  # default: 3600 s
    cache.set("c", 3, ttl_seconds=0)  # no expiry
    assert cache.ttl("a") == pytest.approx(10)
    assert cache.ttl("c") is None
    clock.advance(9.999)
    assert cache.get("a") == 1
    clock.advance(0.001)
    assert cache.get("a") is None
    clock.advance(3600)
    assert cache.get("b") is None
    assert cache.get("c") == 3
    assert cache.get_stats()["expirations"] >= 1


def test_entries_age_on_manual_clock(cache, clock):
    cache.set("a", 1, ttl_seconds=5)
    clock.advance(3)
    cache.get("a")
    (e,) = cache.get_entries()
    assert e["age_seconds"] == pytest.approx(3, abs=1)  # 1 s resolution
    assert e["ttl_seconds"] == pytest.approx(2)
    assert e["access_count"] == 1
    clock.advance(3)
    (e,) = cache.get_entries()
    assert e["expired"] is True


def test_item_limit_evicts_lru(clock):
    with rcache.Cache(max_size=3, max_memory_mb=None, shards=1, clock=clock) as c:
        for k in "abc":
            c.set(k, k)
        c.get("a")  # a is now most recently used
        c.set("d", "d")
        assert c.get("b") is None
        assert [c.get(k) for k in "acd"] == ["a", "c", "d"]
        s = c.get_stats()
        assert s["evictions"] == s["evictions_items"] == 1


def test_memory_limit_evicts_lru(clock):
    with rcache.Cache(max_size=None, max_memory_mb=1, shards=1, clock=clock) as c:
        c.set("a", "A", size_mb=0.4)
        c.set("b", "B", size_mb=0.4)
        c.set("c", "C", size_mb=0.4)
        assert c.get("a") is None and c.get("b") == "B" and c.get("c") == "C"
        s = c.get_stats()
        assert s["evictions_bytes"] == 1
        assert s["current_memory_mb"] <= 1
        assert 0 < s["memory_utilization_percent"] <= 100


def test_too_big_value_is_not_stored(clock):
    with rcache.Cache(max_memory_mb=1, clock=clock) as c:
        c.set("k", "old")
        assert c.set("k", "new", size_mb=2) is False
        assert c.get("k") is None  # no stale value left behind


def test_size_estimates():
    assert rcache.estimate_size(b"x" * 1000) == 1000
    assert rcache.estimate_size(bytearray(10)) == 10
    assert rcache.estimate_size("é" * 100) == 100
    assert rcache.estimate_size(array.array("d", [0.0] * 100)) == 800
    assert rcache.estimate_size(memoryview(b"abcd")) == 4
    inner = [b"x" * 100] * 10
    assert rcache.estimate_size(inner) >= sys.getsizeof(inner) + 10 * sys.getsizeof(b"x" * 100)
    d = {"a": "x" * 50}
    assert rcache.estimate_size(d) >= sys.getsizeof(d) + sys.getsizeof("x" * 50)
    # bounded: a huge or cyclic structure still returns
    cyc = []
    cyc.append(cyc)
    assert rcache.estimate_size(cyc) > 0
    assert rcache.estimate_size(list(range(100000))) > 0


def test_size_estimate_charges_memory(clock):
    with rcache.Cache(max_memory_mb=None, clock=clock, shards=1) as c:
        c.set("big", b"x" * 1_000_000)
        assert c.get_stats()["current_memory_bytes"] >= 1_000_000
        (e,) = c.get_entries()
        assert e["size_bytes"] >= 1_000_000


def test_custom_sizeof(clock):
    with rcache.Cache(max_memory_mb=1, clock=clock, sizeof=lambda v: 600_000) as c:
        c.set("a", 1)
        c.set("b", 2)
        assert c.get("a") is None and c.get("b") == 2


def test_stats_counts(cache):
    cache.set("a", 1)
    cache.get("a")
    cache.get("a")
    cache.get("z")
    cache.delete("a")
    s = cache.get_stats()
    assert (s["hits"], s["misses"], s["sets"], s["deletes"]) == (2, 1, 1, 1)
    assert s["hit_rate_percent"] == pytest.approx(66.67)
    cache.reset_stats()
    assert cache.get_stats()["hits"] == 0


def test_get_many(cache, clock):
    objs = {f"k{i}": object() for i in range(40)}
    for i, (k, o) in enumerate(objs.items()):
        if i % 3:
            cache.set(k, o, ttl_seconds=1 if i % 7 == 1 else 0)
    clock.advance(2)  # the ones with a 1 s TTL are gone
    cache.set(b"raw", b"bytes")
    want = {k: o for i, (k, o) in enumerate(objs.items()) if i % 3 and i % 7 != 1}
    before = cache.get_stats()
    keys = list(objs) + [b"raw", "absent"]
    got = cache.get_many(iter(keys))  # any iterable, looked up 16 at a time
    after = cache.get_stats()
    assert got.pop(b"raw") == b"bytes"
    assert got.keys() == want.keys()
    assert all(got[k] is want[k] for k in want)  # the very objects
    assert after["hits"] - before["hits"] == len(want) + 1
    assert after["misses"] - before["misses"] == len(keys) - len(want) - 1
    assert cache.get_many([]) == {}
    o = object()
    cache.set("rc", o)
    base = sys.getrefcount(o)
    r = cache.get_many(["rc"] * 20 + ["absent"])  # references not leaked
    held = sys.getrefcount(o)  # (before any assert: pytest keeps its operands)
    assert held == base + 1
    assert list(r) == ["rc"] and r["rc"] is o
    del r
    assert sys.getrefcount(o) == base
    with pytest.raises(TypeError):
        cache.get_many(["ok", 3])
    with pytest.raises(ValueError):
        cache.get_many(["ok", ""])
    with pytest.raises(TypeError):
        cache.get_many(5)


def test_invalidate_pattern_glob(cache):
    for k in ("user:1", "user:2", "user:10", "post:1"):
        cache.set(k, k)
    assert cache.invalidate_pattern("user:?") == 2
    assert sorted(cache.keys()) == ["post:1", "user:10"]
    with pytest.raises(ValueError, match="malformed"):
        cache.invalidate_pattern("user:[")
    assert len(cache) == 2


def test_nx_xx_and_touch(cache, clock):
    assert cache.set("a", 1, nx=True) is True
    assert cache.set("a", 2, nx=True) is False
    assert cache.set("b", 2, xx=True) is False
    assert cache.get("a") == 1
    assert cache.touch("a", 5) is True
    assert cache.ttl("a") == pytest.approx(5)
    assert cache.touch("a", None) is True
    assert cache.ttl("a") is None
    assert cache.touch("nope", 5) is False


def test_disabled_cache(clock):
    with rcache.Cache(disabled=True, clock=clock) as c:
        o = object()
        before = sys.getrefcount(o)
        c.set("a", o)
        assert c.get("a") is None
        assert sys.getrefcount(o) == before  # dropped, not leaked
        c.update_config(cache_enabled=True)
        c.set("a", o)
        assert c.get("a") is o


def test_closed_cache_raises():
    c = rcache.Cache()
    c.set("a", 1)
    c.close()
    assert c.closed
    with pytest.raises(ValueError, match="closed"):
        c.get("a")
    c.close()  # idempotent


def test_get_cache_returns_cache_instance():
    assert isinstance(rcache.get_cache(), rcache.Cache)


def test_decorator_ttl_override_and_size(cache, clock):
    calls = []

    @rcache.cached_result_sync(cache=cache, ttl_seconds=10, size_mb=2)
    def f(x):
        calls.append(x)
        return [x]

    f(1)
    (e,) = cache.get_entries()
    assert e["ttl_seconds"] == pytest.approx(10) and e["size_bytes"] >= 2 * 1024 * 1024
    clock.advance(9)
    f(1)
    clock.advance(2)
    f(1)
    assert calls == [1, 1]


def test_async_decorator_ttl_and_compute_time(cache, clock):
    import asyncio

    @rcache.cached_result(cache=cache, ttl_seconds=5)
    async def g(x):
        return {"x": x}

    async def main():
        a = await g(1)
        assert await g(1) is a
        clock.advance(6)
        assert await g(1) is not a
    asyncio.run(main())
    assert g.cache_stats()["computations"] == 2
