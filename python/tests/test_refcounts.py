"""No leak: references dropped on delete, replace, eviction (also from a
non-Python thread), clear and close; memory stable under tracemalloc."""
import gc
import sys
import threading
import tracemalloc
import weakref

import pytest

import rcache
from rcache import _rcache


class Blob:
    pass


def test_refcount_set_get_delete(cache):
    o = Blob()
    base = sys.getrefcount(o)
    cache.set("a", o)
    assert sys.getrefcount(o) == base + 1
    for _ in range(100):
        assert cache.get("a") is o
    assert sys.getrefcount(o) == base + 1
    cache.set("a", "other")  # replace
    assert sys.getrefcount(o) == base
    cache["b"] = o
    cache.delete("b")
    assert sys.getrefcount(o) == base
    cache["c"] = o
    cache.clear()
    assert sys.getrefcount(o) == base


def test_refcount_eviction_and_close(clock):
    c = rcache.Cache(max_size=2, shards=1, clock=clock)
    objs = [Blob() for _ in range(5)]
    def counts():
        return [sys.getrefcount(objs[i]) for i in range(5)]
    base = counts()
    for i in range(5):
        c.set(str(i), objs[i])
    assert [n - b for n, b in zip(counts(), base)] == [0, 0, 0, 1, 1]
    c.close()
    assert counts() == base


def test_refcount_expired(cache, clock):
    o = Blob()
    base = sys.getrefcount(o)
    cache.set("a", o, ttl_seconds=1)
    clock.advance(2)
    assert cache.get("a") is None
    assert sys.getrefcount(o) == base


def test_memo_results_and_failures_released(cache):
    made = []

    @rcache.cached_result_sync(cache=cache)
    def f(x):
        o = Blob()
        made.append(weakref.ref(o))
        return o

    @rcache.cached_result_sync(cache=cache)
    def g():
        raise ValueError(Blob())

    r = f(1)
    assert f(1) is r
    del r
    assert made[0]() is not None  # held by the cache
    for _ in range(10):
        try:
            g()
        except ValueError:
            pass
    cache.clear()
    gc.collect()
    assert made[0]() is None


def test_release_from_a_non_python_thread(clock):
    c = rcache.Cache(max_size=10, shards=1, clock=clock)
    refs = []
    for i in range(10):
        o = Blob()
        refs.append(weakref.ref(o))
        c.set(f"py{i}", o)
        del o
    assert all(r() is not None for r in refs)
    # a plain pthread stores 20 byte values: it evicts the 10 objects and
    # runs their destructors itself, taking the GIL with PyGILState_Ensure
    _rcache._native_set(c, "native", 20)
    assert all(r() is None for r in refs)
    assert c.get("native19") == b"v"  # bytes entries read back as bytes
    c.close()


def test_eviction_by_other_python_threads(clock):
    c = rcache.Cache(max_size=5, clock=clock)
    refs = []
    lock = threading.Lock()

    def worker(t):
        for i in range(200):
            o = Blob()
            with lock:
                refs.append(weakref.ref(o))
            c.set(f"{t}:{i}", o)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r() is not None for r in refs) <= 5
    c.close()
    assert all(r() is None for r in refs)


def test_tracemalloc_stable(clock):
    c = rcache.Cache(max_size=100, clock=clock)

    @rcache.cached_result_sync(cache=c)
    def f(a, b):
        return [a, b]

    def work(n):
        for i in range(n):
            c.set(f"k{i % 300}", ("x" * 50, i))
            c.get(f"k{(i * 7) % 300}")
            f(i % 250, "s")
            try:
                f(i, object())
            except TypeError:
                pass

    work(3000)
    gc.collect()
    tracemalloc.start()
    work(3000)
    gc.collect()
    first, _ = tracemalloc.get_traced_memory()
    work(20000)
    gc.collect()
    second, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert second - first < 64 * 1024, (first, second)
    c.close()


class Closer:
    """Closes its cache when released: runs inside a library call."""

    def __init__(self, cache, log):
        self.cache, self.log = cache, log

    def __del__(self):
        try:
            self.cache.close()
            self.log.append("closed")
        except RuntimeError as e:
            self.log.append(e)


def test_close_from_a_destructor_is_refused(clock):
    c = rcache.Cache(max_size=1, shards=1, clock=clock)
    log = []
    c.set("a", Closer(c, log))
    c.set("b", 1)  # evicts a: its __del__ runs inside set
    c.set("c", Closer(c, log), ttl_seconds=1)
    clock.advance(2)
    assert "c" not in c  # reclaims the expired entry inside `in`
    c.set("d", Closer(c, log), ttl_seconds=1)
    clock.advance(2)
    assert c.entry_info("d") is None
    c.set("e", Closer(c, log), ttl_seconds=1)
    clock.advance(2)
    with pytest.raises(KeyError):
        c.ttl("e")
    assert len(log) == 4 and all(isinstance(e, RuntimeError) for e in log), log
    c.set("f", 2)
    assert c.get("f") == 2
    c.close()
