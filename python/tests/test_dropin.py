"""The drop-in API, called exactly as the existing deployments call it."""
import asyncio

import pytest

import rcache
from rcache import cached_result, cached_result_sync, get_cache


def test_get_cache_is_process_wide():
    c = get_cache(max_size=1000, max_memory_mb=512, default_ttl_seconds=86400)
    assert get_cache() is c
    assert get_cache(max_size=5) is c  # later arguments are ignored
    cfg = c.get_config()
    assert cfg["max_size"] == 1000
    assert cfg["max_memory_mb"] == 512
    assert cfg["default_ttl_seconds"] == 86400


def test_get_cache_from_environment(monkeypatch):
    monkeypatch.setenv("CACHE_MAX_SIZE", "7")
    monkeypatch.setenv("CACHE_MAX_MEMORY_MB", "3")
    monkeypatch.setenv("CACHE_TTL_SECONDS", "60")
    c = get_cache(max_size=1000, max_memory_mb=512, default_ttl_seconds=86400)
    cfg = c.get_config()
    assert (cfg["max_size"], cfg["max_memory_mb"], cfg["default_ttl_seconds"]) == (7, 3, 60)


def test_get_cache_rcache_env_and_disable(monkeypatch):
    monkeypatch.setenv("RCACHE_MAX_BYTES", "1mb")
    monkeypatch.setenv("DISABLE_RESULT_CACHE", "1")
    c = get_cache()
    assert c.get_config()["max_memory_bytes"] == 1024 * 1024
    assert c.get_stats()["cache_enabled"] is False
    c.set("k", 1)
    assert c.get("k") is None


def test_get_cache_bad_environment(monkeypatch):
    monkeypatch.setenv("CACHE_MAX_SIZE", "lots")
    with pytest.raises(ValueError, match="CACHE_MAX_SIZE"):
        get_cache()


def test_get_set_delete_clear():
    cache = get_cache()
    value = {"mesh": [1, 2, 3]}
    cache.set("model:v3:abc", value, size_mb=12.5, ttl_seconds=3600)
    assert cache.get("model:v3:abc") is value
    assert cache.get("missing") is None
    assert cache.delete("model:v3:abc") is True
    assert cache.delete("model:v3:abc") is False
    cache.set("a", 1)
    cache.set("b", 2)
    assert cache.clear() == 2
    assert cache.get("a") is None


def test_get_stats_fields():
    cache = get_cache()
    cache.set("a", b"x" * 100)
    cache.get("a")
    cache.get("nope")
    s = cache.get_stats()
    for f in ("hits", "misses", "hit_rate_percent", "evictions", "current_items",
              "current_memory_mb", "max_items", "max_memory_mb", "memory_utilization_percent",
              "compute_saved_seconds", "computations", "singleflight_dedup", "expirations",
              "evictions_items", "evictions_bytes", "sets", "deletes"):
        assert f in s, f
    assert s["hits"] == 1 and s["misses"] == 1 and s["hit_rate_percent"] == 50.0
    assert s["current_items"] == 1 and s["max_items"] == 1000 and s["max_memory_mb"] == 512


def test_update_config():
    cache = get_cache()
    for i in range(10):
        cache.set(f"k{i}", i)
    out = cache.update_config(max_size=4, max_memory_mb=100, default_ttl_seconds=60)
    assert out["max_size"] == 4 and out["max_memory_mb"] == 100
    assert out["default_ttl_seconds"] == 60 and out["evicted"] == 6
    assert cache.get_stats()["current_items"] == 4
    # a parameter left out keeps its value
    assert cache.update_config(default_ttl_seconds=30)["max_size"] == 4


def test_get_entries_and_invalidate_pattern():
    cache = get_cache()
    cache.set("model:v3:a", "x" * 10, size_mb=1)
    cache.set("model:v3:b", "y")
    cache.set("model:v2:a", "z")
    cache.get("model:v3:a")
    entries = {e["key"]: e for e in cache.get_entries()}
    assert set(entries) == {"model:v3:a", "model:v3:b", "model:v2:a"}
    e = entries["model:v3:a"]
    for f in ("key", "size_mb", "timestamp", "age_seconds", "access_count", "expired"):
        assert f in e
    assert e["access_count"] == 1 and e["expired"] is False and e["size_mb"] >= 1
    assert cache.invalidate_pattern("model:v3:*") == 2
    assert [e["key"] for e in cache.get_entries()] == ["model:v2:a"]


def test_cached_result_async_drop_in():
    calls = []

    @cached_result(ttl_seconds=3600)
    async def generate(image_hash: str, quality: int = 1):
        calls.append(image_hash)
        return {"mesh": image_hash}

    async def main():
        a = await generate("abc")
        b = await generate("abc")
        c = await generate("abd")
        return a, b, c

    a, b, c = asyncio.run(main())
    assert a is b and a == {"mesh": "abc"} and c == {"mesh": "abd"}
    assert calls == ["abc", "abd"]
    st = generate.cache_stats()
    assert st["hits"] == 1 and st["computations"] == 2


def test_cached_result_sync_with_key_fn_and_pattern():
    calls = []

    @cached_result_sync(cache_key_fn=lambda h: f"model:v3:{h}", ttl_seconds=60)
    def load(h):
        calls.append(h)
        return [h]

    assert load("a") is load("a")
    assert get_cache().get("model:v3:a") == ["a"]
    assert get_cache().invalidate_pattern("model:v3:*") == 1
    load("a")
    assert calls == ["a", "a"]


def test_enabled_flag_bypasses():
    calls = []

    @cached_result_sync(enabled=False)
    def f(x):
        calls.append(x)
        return x

    f(1)
    f(1)
    assert calls == [1, 1]
    assert get_cache().get_stats()["current_items"] == 0


def test_cached_picks_by_function_kind():
    @rcache.cached
    def s(x):
        return x * 2

    @rcache.cached(ttl_seconds=5)
    async def a(x):
        return x * 3

    assert s(2) == 4
    assert asyncio.run(a(2)) == 6
    with pytest.raises(TypeError, match="async"):
        cached_result()(lambda: 1)
    with pytest.raises(TypeError, match="coroutine"):
        cached_result_sync()(a.__wrapped__)


def test_disabled_mode_runs_every_time(monkeypatch):
    monkeypatch.setenv("DISABLE_RESULT_CACHE", "true")
    calls = []

    @cached_result_sync()
    def f(x):
        calls.append(x)
        return x

    f(1)
    f(1)
    assert calls == [1, 1]


def test_default_cache_resolved_at_first_call(monkeypatch):
    @cached_result_sync()
    def f(x):
        return x + 1

    assert rcache._cache._default is None  # decorating created nothing
    monkeypatch.setenv("CACHE_MAX_SIZE", "3")
    assert f(1) == 2 and f(1) == 2
    assert get_cache().get_config()["max_size"] == 3
    fs = get_cache().get_stats()["functions"]
    (name,) = [n for n in fs if n.endswith("f")]
    assert fs[name]["hits"] == 1 and fs[name]["computations"] == 1
