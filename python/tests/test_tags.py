"""Tags (issue 14): Cache.set(..., tags=[...]), invalidate_tag(),
get_tags(); what drops tags (a plain set, expiry, eviction); bad
arguments; references released when tagged entries go."""
import sys

import pytest

import rcache


def test_set_get_invalidate(cache):
    assert cache.set("a", 1, tags=["img:42", "user:7"])
    assert cache.set("b", 2, tags=("img:42",))
    assert cache.set("c", 3, tags=[b"user:7", "user:7"])  # str and bytes: one tag
    assert cache.set("d", 4)
    assert cache.get_tags("a") == ["img:42", "user:7"]
    assert cache.get_tags("c") == ["user:7"]
    assert cache.get_tags("d") == []
    assert cache.get_tags("missing") is None
    assert cache.invalidate_tag("img:42") == 2
    assert "a" not in cache and "b" not in cache and cache.get("c") == 3
    assert cache.invalidate_tag(b"img:42") == 0
    assert cache.invalidate_tag("user:7") == 1
    assert cache.get("d") == 4


def test_binary_tag_comes_back_as_bytes(cache):
    cache.set("k", 1, tags=[b"\xff\x00", "é"])
    assert cache.get_tags("k") == [b"\xff\x00", "é"]
    assert cache.invalidate_tag(b"\xff\x00") == 1


def test_plain_set_drops_tags_expiry_and_eviction(cache, clock):
    cache.set("k", 1, tags=["t"])
    cache.set("k", 2)
    assert cache.get_tags("k") == []
    assert cache.invalidate_tag("t") == 0
    cache.set("e", 1, ttl_seconds=10, tags=["t"])
    clock.advance(11)
    assert cache.get_tags("e") is None
    assert cache.invalidate_tag("t") == 0
    for i in range(150):  # max_size=100: the oldest tagged keys are evicted
        cache.set("ev%d" % i, i, tags=["ev"])
    assert cache.invalidate_tag("ev") == 100


def test_bad_arguments(cache):
    with pytest.raises(TypeError):
        cache.set("k", 1, tags="one-string")
    with pytest.raises(TypeError):
        cache.set("k", 1, tags=[1])
    with pytest.raises(TypeError):
        cache.set("k", 1, tags=5)
    with pytest.raises(ValueError):
        cache.set("k", 1, tags=[""])
    with pytest.raises(ValueError):
        cache.set("k", 1, tags=["x" * 1025])
    with pytest.raises(ValueError):
        cache.set("k", 1, tags=["t%d" % i for i in range(33)])
    assert "k" not in cache
    assert cache.set("k", 1, tags=["t%d" % i for i in range(32)])
    assert len(cache.get_tags("k")) == 32
    with pytest.raises(TypeError):
        cache.invalidate_tag(3)
    with pytest.raises(ValueError):
        cache.invalidate_tag("")
    with pytest.raises(ValueError):
        cache.invalidate_tag("x" * 1025)


def test_references_released(cache):
    o = object()
    base = sys.getrefcount(o)
    tag = "tag-" + str(id(o))  # a str object made here, so its count is ours
    tbase = sys.getrefcount(tag)
    for i in range(10):
        cache.set("r%d" % i, o, tags=[tag, b"other"])
    assert sys.getrefcount(o) == base + 10
    assert sys.getrefcount(tag) == tbase  # the cache copies tags
    assert cache.invalidate_tag(tag) == 10
    assert sys.getrefcount(o) == base
    with pytest.raises(ValueError):
        cache.set("r", o, tags=[""])
    assert sys.getrefcount(o) == base


def test_closed_cache(clock):
    c = rcache.Cache(max_size=10, clock=clock)
    c.close()
    with pytest.raises(ValueError):
        c.invalidate_tag("t")
    with pytest.raises(ValueError):
        c.get_tags("k")


def test_cached_result_sync_tags(cache):
    calls = []

    @rcache.cached_result_sync(cache=cache, tags=["model:v3"])
    def fixed(x):
        calls.append(x)
        return x * 2

    @rcache.cached_result_sync(cache=cache, tags=lambda image, size: ["image:%d" % image])
    def thumb(image, size):
        calls.append((image, size))
        return "thumb-%d-%d" % (image, size)

    assert fixed(1) == 2 and fixed(2) == 4 and fixed(1) == 2
    assert thumb(42, 64) == "thumb-42-64" and thumb(42, 128) and thumb(7, 64)
    assert len(calls) == 5
    assert cache.invalidate_tag("image:42") == 2
    assert thumb(7, 64) == "thumb-7-64" and len(calls) == 5  # still cached
    assert thumb(42, 64) == "thumb-42-64" and len(calls) == 6  # recomputed
    assert cache.invalidate_tag("model:v3") == 2
    assert fixed(1) == 2 and len(calls) == 7

    @rcache.cached_result_sync(cache=cache, tags=lambda x: 1 / 0)
    def bad_tags(x):
        return x

    with pytest.raises(ZeroDivisionError):
        bad_tags(1)
    with pytest.raises(TypeError):
        rcache.cached_result_sync(cache=cache, tags="one-string")(lambda x: x)
    with pytest.raises(TypeError):
        rcache.cached_result_sync(cache=cache, tags=[1])(lambda x: x)


def test_cached_result_async_tags(cache):
    import asyncio
    calls = []

    @rcache.cached_result(cache=cache, tags=lambda user: ["user:%s" % user, "pages"])
    async def page(user):
        calls.append(user)
        return "<p>%s</p>" % user

    async def main():
        assert await page("a") == "<p>a</p>"
        assert await page("b") == "<p>b</p>"
        assert await page("a") == "<p>a</p>"
        assert len(calls) == 2
        assert cache.get_tags(page.memo._key(("a",), {})) == ["user:a", "pages"]
        assert cache.invalidate_tag("user:a") == 1
        assert await page("a") == "<p>a</p>" and len(calls) == 3
        assert cache.invalidate_tag("pages") == 2

    asyncio.run(main())
