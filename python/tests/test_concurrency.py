"""Single-flight across threads and asyncio tasks, exceptions, re-entrancy,
timeouts, thread churn.  No test asserts on wall-clock time: computations
are released once the waiters are observed parked."""
import asyncio
import random
import threading
import time

import pytest

import rcache
from rcache import _decorators, _rcache


def wait_until(cond):
    """Poll a condition that the code under test will make true."""
    while not cond():
        time.sleep(0.001)


def test_32_threads_one_compute(cache):
    calls = []

    @rcache.cached_result_sync(cache=cache, namespace="t32")
    def slow(x):
        calls.append(x)
        key = rcache.encode_key("t32", (x,))
        wait_until(lambda: _rcache._memo_waiters(cache, key) >= 31)
        return {"x": x}

    results = [None] * 32
    def run(i):
        results[i] = slow(7)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [7]
    assert all(r is results[0] for r in results)
    st = slow.cache_stats()
    assert st["computations"] == 1 and st["singleflight_waits"] == 31
    assert cache.get_stats()["singleflight_dedup"] == 31


def test_thread_waiters_get_the_exception_not_cached(cache):
    calls = []

    @rcache.cached_result_sync(cache=cache, namespace="boom")
    def boom(x):
        calls.append(x)
        wait_until(lambda: _rcache._memo_waiters(cache, rcache.encode_key("boom", (x,))) >= 3)
        raise KeyError("nope")

    errors = []
    def run():
        try:
            boom(1)
        except KeyError as e:
            errors.append(e)
    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 4 and all(e is errors[0] for e in errors)
    assert calls == [1]
    assert len(cache) == 0  # not cached
    assert boom.cache_stats()["errors"] == 1


def test_negative_caching_when_asked(cache, clock):
    calls = []

    @rcache.cached_result_sync(cache=cache, error_ttl_seconds=10)
    def f():
        calls.append(1)
        raise ValueError("bad")

    for _ in range(3):
        with pytest.raises(ValueError):
            f()
    assert calls == [1]
    clock.advance(11)
    with pytest.raises(ValueError):
        f()
    assert calls == [1, 1]


def test_reentrant_sync(cache):
    @rcache.cached_result_sync(cache=cache)
    def fact(n):
        return fact(n) if n > 0 else 1

    with pytest.raises(rcache.ReentrantCallError, match="fact"):
        fact(3)

    @rcache.cached_result_sync(cache=cache)
    def a(n):
        return b(n)

    @rcache.cached_result_sync(cache=cache)
    def b(n):
        return a(n)

    with pytest.raises(rcache.ReentrantCallError):
        a(1)

    @rcache.cached_result_sync(cache=cache)
    def fib(n):  # recursion on other keys is fine
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    assert fib(60) == 1548008755920


def test_thread_wait_timeout(cache):
    release = threading.Event()
    entered = threading.Event()

    @rcache.cached_result_sync(cache=cache, timeout_seconds=0.01, namespace="tmo")
    def slow():
        entered.set()
        release.wait()
        return 1

    t = threading.Thread(target=slow)
    t.start()
    entered.wait()
    with pytest.raises(rcache.CacheTimeoutError):
        slow()
    with pytest.raises(TimeoutError):  # also a TimeoutError
        slow()
    release.set()
    t.join()
    assert slow() == 1
    assert slow.cache_stats()["timeouts"] == 2


def test_1000_asyncio_tasks_one_compute(cache):
    calls = []

    @rcache.cached_result(cache=cache, namespace="a1000")
    async def gen(x):
        calls.append(x)
        fkey = (id(cache), rcache.encode_key("a1000", (x,)))
        while len(_decorators._flights[fkey].waiters) < 999:
            await asyncio.sleep(0)
        return [x]

    async def main():
        return await asyncio.gather(*(gen(5) for _ in range(1000)))

    results = asyncio.run(main())
    assert calls == [5]
    assert all(r is results[0] for r in results)
    st = gen.cache_stats()
    assert st["computations"] == 1 and st["singleflight_waits"] == 999
    assert asyncio.run(gen(5)) is results[0]


def test_async_exception_reaches_every_waiter_not_cached(cache):
    calls = []

    @rcache.cached_result(cache=cache, namespace="aboom")
    async def boom():
        calls.append(1)
        fkey = (id(cache), rcache.encode_key("aboom", ()))
        while len(_decorators._flights[fkey].waiters) < 9:
            await asyncio.sleep(0)
        raise RuntimeError("x")

    async def main():
        return await asyncio.gather(*(boom() for _ in range(10)), return_exceptions=True)

    res = asyncio.run(main())
    assert len(calls) == 1 and all(isinstance(r, RuntimeError) for r in res)
    assert len(cache) == 0
    asyncio.run(main())
    assert len(calls) == 2


def test_async_reentrant(cache):
    @rcache.cached_result(cache=cache)
    async def a(n):
        return await b(n)

    @rcache.cached_result(cache=cache)
    async def b(n):
        return await asyncio.create_task(a(n))  # through another task too

    with pytest.raises(rcache.ReentrantCallError):
        asyncio.run(a(1))


def test_async_timeout_and_cancelled_leader(cache):
    release = None

    @rcache.cached_result(cache=cache, timeout_seconds=0.01)
    async def slow():
        await release.wait()
        return 42

    async def main():
        nonlocal release
        release = asyncio.Event()
        leader = asyncio.create_task(slow())
        await asyncio.sleep(0)
        with pytest.raises(rcache.CacheTimeoutError):
            await slow()
        # cancel the computing task: a waiter (same key, no timeout) takes over
        waiter = asyncio.create_task(slow_no_timeout())
        await asyncio.sleep(0)
        leader.cancel()
        await asyncio.sleep(0)
        release.set()
        return await waiter

    @rcache.cached_result(cache=cache, namespace=slow.memo.namespace)
    async def slow_no_timeout():
        await release.wait()
        return 42

    assert asyncio.run(main()) == 42
    assert slow.memo.timeouts == 1


def test_async_across_threads_and_loops(cache):
    calls = []
    ns = "xloop"

    @rcache.cached_result(cache=cache, namespace=ns)
    async def f():
        calls.append(1)
        fkey = (id(cache), rcache.encode_key(ns, ()))
        while len(_decorators._flights[fkey].waiters) < 3:
            await asyncio.sleep(0.001)
        return object()

    out = []
    def run():
        out.append(asyncio.run(f()))
    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1] and len(out) == 4 and all(o is out[0] for o in out)


def test_thread_churn_invariants(clock):
    c = rcache.Cache(max_size=50, max_memory_mb=1, clock=clock)

    @rcache.cached_result_sync(cache=c)
    def square(n):
        return ("sq", n, n * n)

    errors = []
    def worker(seed):
        rnd = random.Random(seed)
        try:
            for _ in range(1500):
                n = rnd.randrange(200)
                op = rnd.random()
                if op < 0.5:
                    assert square(n) == ("sq", n, n * n)
                elif op < 0.8:
                    c.set(f"k{n}", ("v", n), size_mb=rnd.random() / 50)
                elif op < 0.95:
                    v = c.get(f"k{n}")
                    assert v is None or v == ("v", n)
                else:
                    c.delete(f"k{n}")
        except BaseException as e:  # reported below
            errors.append(e)

    for round_ in range(3):  # threads come and go
        threads = [threading.Thread(target=worker, args=(round_ * 100 + i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        s = c.get_stats()
        assert s["current_items"] <= 50
        assert s["current_memory_bytes"] <= 1024 * 1024
    assert not errors, errors[0]
    c.close()


def test_async_negative_caching(cache, clock):
    calls = []

    @rcache.cached_result(cache=cache, error_ttl_seconds=10, cache_key_fn=lambda: "neg")
    async def f():
        calls.append(1)
        raise LookupError("missing upstream")

    async def main():
        for _ in range(3):
            with pytest.raises(LookupError):
                await f()
    asyncio.run(main())
    assert calls == [1]
    assert cache.get("neg", "default") == "default"  # a cached failure reads as a miss
    clock.advance(11)
    asyncio.run(main())
    assert calls == [1, 1]


def test_nested_wait_timeout_inside_a_computation(cache):
    """A computation (outer) calls a cached function (inner) that another
    thread is computing, and gives up waiting (timeout).  The waiter it
    abandoned is freed by the other thread; outer's own call must not touch
    it afterwards (use-after-free caught by the ASan run)."""
    release = threading.Event()
    started = threading.Event()

    @rcache.cached_result_sync(cache=cache, timeout_seconds=0.01, namespace="inner")
    def inner():
        started.set()
        release.wait()
        return 1

    t = threading.Thread(target=inner)

    @rcache.cached_result_sync(cache=cache, namespace="outer")
    def outer():
        with pytest.raises(rcache.CacheTimeoutError):
            inner()
        release.set()
        t.join()  # the computing thread frees the abandoned waiter
        return 2

    t.start()
    started.wait()
    assert outer() == 2
    assert outer() == 2
    assert inner() == 1
