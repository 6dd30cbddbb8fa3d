"""Bad input: TypeError / ValueError with a clear message, cache intact."""
import math

import pytest

import rcache


@pytest.fixture
def full(cache):
    cache.set("keep", "me")
    yield cache
    assert cache.get("keep") == "me"
    assert len(cache) == 1


@pytest.mark.parametrize("key", [None, 1, 1.5, ("a",), ["a"], object()])
def test_bad_key_types(full, key):
    with pytest.raises(TypeError, match="key must be str or bytes"):
        full.set(key, 1)
    with pytest.raises(TypeError):
        full.get(key)
    with pytest.raises(TypeError):
        full.delete(key)


def test_empty_and_unhashable(full):
    with pytest.raises(ValueError, match="length"):
        full.set("", 1)
    with pytest.raises(TypeError):
        full.get({})


@pytest.mark.parametrize("ttl,exc", [(-1, ValueError), (math.inf, ValueError),
                                      (math.nan, ValueError), (1e12, ValueError),
                                      ("10", TypeError), (True, TypeError)])
def test_bad_ttl(full, ttl, exc):
    with pytest.raises(exc, match="ttl_seconds"):
        full.set("x", 1, ttl_seconds=ttl)


@pytest.mark.parametrize("size,exc", [(-1, ValueError), (1e30, ValueError),
                                       (math.inf, ValueError), (10 ** 400, ValueError),
                                       ("1", TypeError), (False, TypeError)])
def test_bad_size_mb(full, size, exc):
    with pytest.raises(exc, match="size_mb"):
        full.set("x", 1, size_mb=size)


def test_bad_sizeof_result(clock):
    with rcache.Cache(clock=clock, sizeof=lambda v: "big") as c:
        with pytest.raises(TypeError, match="sizeof"):
            c.set("a", 1)
        assert len(c) == 0
    with rcache.Cache(clock=clock, sizeof=lambda v: -1) as c:
        with pytest.raises(ValueError, match="sizeof"):
            c.set("a", 1)


@pytest.mark.parametrize("kw,exc", [
    ({"max_size": -1}, ValueError), ({"max_size": 1.5}, TypeError),
    ({"max_size": "10"}, TypeError), ({"max_memory_mb": -1}, ValueError),
    ({"max_memory_mb": 2.0 ** 41}, ValueError), ({"max_memory_mb": "1"}, TypeError),
    ({"default_ttl_seconds": -5}, ValueError), ({"default_ttl_seconds": [1]}, TypeError),
    ({"shards": 5000}, ValueError), ({"disabled": 1}, TypeError),
    ({"clock": object()}, TypeError), ({"sizeof": 3}, TypeError)])
def test_bad_constructor_args(kw, exc):
    with pytest.raises(exc):
        rcache.Cache(**kw)


@pytest.mark.parametrize("kw,exc", [
    ({"max_size": -1}, ValueError), ({"max_size": True}, TypeError),
    ({"max_memory_mb": math.nan}, ValueError), ({"default_ttl_seconds": "x"}, TypeError),
    ({"cache_enabled": "yes"}, TypeError)])
def test_bad_update_config_changes_nothing(full, kw, exc):
    before = full.get_config()
    with pytest.raises(exc):
        full.update_config(max_size=5, **kw) if "max_size" not in kw else full.update_config(**kw)
    assert full.get_config() == before


@pytest.mark.parametrize("kw,exc", [
    ({"ttl_seconds": -1}, ValueError), ({"ttl_seconds": "1"}, TypeError),
    ({"timeout_seconds": -1}, ValueError), ({"size_mb": -2}, ValueError),
    ({"enabled": "no"}, TypeError), ({"cache_key_fn": 5}, TypeError),
    ({"cache": {}}, TypeError), ({"namespace": 3}, TypeError),
    ({"version": 1.5}, TypeError), ({"error_ttl_seconds": math.inf}, ValueError),
    ({"sizeof": "x"}, TypeError), ({"include_self": 1}, TypeError)])
def test_bad_decorator_args(kw, exc):
    with pytest.raises(exc):
        rcache.cached_result_sync(**kw)(lambda x: x)


def test_bad_cache_key_fn_result(cache):
    @rcache.cached_result_sync(cache=cache, cache_key_fn=lambda x: x)
    def f(x):
        return x

    with pytest.raises(TypeError, match="key must be str or bytes"):
        f(3)
    with pytest.raises(ValueError):
        f("")
    assert f("ok") == "ok"


def test_bad_pattern_and_scan(full):
    with pytest.raises(ValueError):
        full.invalidate_pattern("a\\")
    with pytest.raises(TypeError):
        full.invalidate_pattern(5)
    with pytest.raises(ValueError):
        full.scan_entries(0, 0)
    with pytest.raises(ValueError):
        full.get_entries("[")


def test_manual_clock_bad_input():
    c = rcache.ManualClock()
    with pytest.raises(ValueError):
        c.advance(-1)
    with pytest.raises(TypeError):
        c.advance("1")
    with pytest.raises(ValueError):
        rcache.ManualClock(math.nan)
    c.set(c.now() + 5)
    with pytest.raises(ValueError, match="backwards"):
        c.set(c.now() - 1)


@pytest.mark.parametrize("args,exc", [(("10",), TypeError), ((-1,), ValueError),
                                       ((10, "512"), TypeError), ((10, 512, -1), ValueError)])
def test_get_cache_bad_args_create_nothing(args, exc):
    with pytest.raises(exc):
        rcache.get_cache(*args)
    assert rcache._cache._default is None
    assert rcache.get_cache().get_config()["max_size"] == 1000
