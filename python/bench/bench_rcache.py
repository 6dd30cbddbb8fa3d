#!/usr/bin/env python3
"""Benchmarks of the rcache Python package (issue 17's figures).

    PYTHONPATH=<built package> /usr/bin/python3 python/bench/bench_rcache.py [--quick]

Compares rcache with functools.lru_cache, cachetools (LRUCache + RLock,
`cached` with an RLock) and the deployments' OrderedDict + RLock design
(deployment_cache.py):
  1. cache.get hits, 100k distinct keys, Zipf(0.99) lookups;
  2. decorator hits (one int and one str argument), same distribution;
  3. rcache get throughput with 1 and 8 threads;
  4. stampede: 100 concurrent first calls of a 0.2 s function;
  5. end to end: request streams from ../shared/traces replayed through a
     cached function whose cost per key is a seeded model (see cost_ms()),
     with 1 and 8 worker threads.
Timings are wall-clock on a shared machine: compare columns of one run.
"""
import argparse
import bisect
import functools
import hashlib
import lzma
import math
import os
import random
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rcache  # noqa: E402
from deployment_cache import DeploymentCache, deployment_cached_sync  # noqa: E402

try:
    import cachetools
except ImportError:  # python3-cachetools
    cachetools = None

TRACES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                      "shared", "traces")


def zipf_indices(n_keys, n, s=0.99, seed=1):
    rnd = random.Random(seed)
    cdf, acc = [], 0.0
    for i in range(1, n_keys + 1):
        acc += 1.0 / i ** s
        cdf.append(acc)
    return [bisect.bisect_left(cdf, rnd.random() * acc) for _ in range(n)]


def best(fn, repeat=3):
    t = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - t0)
    return t


def bench_get(n_keys, n_lookups):
    keys = [f"key:{i}" for i in range(n_keys)]
    seq = [keys[i] for i in zipf_indices(n_keys, n_lookups)]
    rows = []
    rc = rcache.Cache(max_size=None, max_memory_mb=None)
    for k in keys:
        rc.set(k, k)
    g = rc.get

    def run_rc():
        for k in seq:
            g(k)
    rows.append(("rcache Cache.get", best(run_rc)))
    od = DeploymentCache(max_size=n_keys + 1, max_memory_mb=1e9)
    for k in keys:
        od.set(k, k, size_mb=0.001)
    og = od.get

    def run_od():
        for k in seq:
            og(k)
    rows.append(("OrderedDict+RLock (deployments)", best(run_od)))
    if cachetools:
        ct = cachetools.LRUCache(maxsize=n_keys + 1)
        for k in keys:
            ct[k] = k
        lock = threading.RLock()
        cg = ct.get

        def run_ct():
            for k in seq:
                with lock:
                    cg(k)
        rows.append(("cachetools LRUCache+RLock", best(run_ct)))
    d = {k: k for k in keys}
    dg = d.get

    def run_d():
        for k in seq:
            dg(k)
    rows.append(("dict.get (floor)", best(run_d)))
    return [(name, t / n_lookups * 1e9) for name, t in rows]


def bench_decorator(n_keys, n_calls):
    args = [(i, f"s{i % 97}") for i in zipf_indices(n_keys, n_calls, seed=2)]
    rows = []

    def fn(a, b):
        return (a, b)

    rc = rcache.Cache(max_size=None, max_memory_mb=None)
    variants = [("functools.lru_cache", functools.lru_cache(maxsize=None)(fn)),
                ("rcache @cached_result_sync", rcache.cached_result_sync(cache=rc)(fn))]
    if cachetools:
        variants.append(("cachetools @cached + RLock",
                         cachetools.cached(cachetools.LRUCache(maxsize=n_keys + 1),
                                           lock=threading.RLock())(fn)))
    variants.append(("OrderedDict+RLock decorator",
                     deployment_cached_sync(DeploymentCache(n_keys + 1, 1e9),
                                            size_fn=lambda v: 0.001)(fn)))
    for name, f in variants:
        for a, b in set(args):
            f(a, b)

        def run(f=f):
            for a, b in args:
                f(a, b)
        rows.append((name, best(run) / n_calls * 1e9))
    return rows


def bench_threads(n_keys, n_lookups):
    keys = [f"key:{i}" for i in range(n_keys)]
    seq = [keys[i] for i in zipf_indices(n_keys, n_lookups, seed=3)]
    rc = rcache.Cache(max_size=None, max_memory_mb=None)
    for k in keys:
        rc.set(k, k)
    out = []
    for nthreads in (1, 8):
      best_ops = 0.0
      for _ in range(3):
        barrier = threading.Barrier(nthreads + 1)

        def worker():
            g = rc.get
            barrier.wait()
            for k in seq:
                g(k)
        ts = [threading.Thread(target=worker) for _ in range(nthreads)]
        for t in ts:
            t.start()
        barrier.wait()
        t0 = time.perf_counter()
        for t in ts:
            t.join()
        best_ops = max(best_ops, nthreads * len(seq) / (time.perf_counter() - t0))
      out.append((nthreads, best_ops))
    return out


def bench_stampede(n=100, cost=0.2):
    rows = []

    def make(counter):
        def slow(x):
            counter.append(1)
            time.sleep(cost)
            return x
        return slow

    variants = []
    c1 = []
    variants.append(("rcache", rcache.cached_result_sync(cache=rcache.Cache())(make(c1)), c1))
    c2 = []
    variants.append(("functools.lru_cache", functools.lru_cache(maxsize=None)(make(c2)), c2))
    if cachetools:
        c3 = []
        variants.append(("cachetools + RLock", cachetools.cached(
            cachetools.LRUCache(100), lock=threading.RLock())(make(c3)), c3))
    c4 = []
    variants.append(("OrderedDict+RLock", deployment_cached_sync(DeploymentCache())(make(c4)), c4))
    for name, f, counter in variants:
        barrier = threading.Barrier(n)

        def call():
            barrier.wait()
            f(42)
        ts = [threading.Thread(target=call) for _ in range(n)]
        t0 = time.perf_counter()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        rows.append((name, len(counter), time.perf_counter() - t0))
    return rows


# ---- end to end --------------------------------------------------------

def read_be_int32_xz(path, limit):
    with lzma.open(path, "rb") as f:
        data = f.read(limit * 4)
    return [(v, None) for (v,) in struct.iter_unpack(">i", data[: len(data) // 4 * 4])]


def read_adaptsize(path, limit):
    out = []
    with lzma.open(path, "rt") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3:
                out.append((int(parts[1]), int(parts[2])))
            if len(out) >= limit:
                break
    return out


def cost_ms(key, mean_ms):
    """Seeded cost model: lognormal (sigma 1) around mean_ms, from a hash of
    the key, so the same key always costs the same; capped at 20x mean."""
    h = int.from_bytes(hashlib.blake2b(str(key).encode(), digest_size=8).digest(), "big")
    u1 = (h & 0xFFFFFFFF) / 2 ** 32 or 1e-9
    u2 = (h >> 32) / 2 ** 32
    z = math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)
    return min(mean_ms * math.exp(z - 0.5), 20 * mean_ms)


def replay(trace, cache_kind, nthreads, cfg, mean_ms):
    computed = [0.0]
    lock = threading.Lock()

    def work(key, size):
        ms = cost_ms(key, mean_ms)
        time.sleep(ms / 1000.0)  # the expensive part (releases the GIL, like I/O or a GPU job)
        with lock:
            computed[0] += ms
        return ("result", key)

    size_of = {}
    for k, s in trace:
        size_of[k] = (s or 16384) / (1024 * 1024)  # unknown sizes: 16 KiB results
    max_size, max_mb = cfg
    if cache_kind == "none":
        f = work
        stats = None
    elif cache_kind == "rcache":
        c = rcache.Cache(max_size=max_size, max_memory_mb=max_mb, default_ttl_seconds=86400)
        f = rcache.cached_result_sync(cache=c, sizeof=lambda v: int(size_of[v[1]] * 1048576))(work)
        stats = c
    else:
        c = DeploymentCache(max_size, max_mb, 86400)
        f = deployment_cached_sync(c, size_fn=lambda v: size_of[v[1]])(work)
        stats = c
    chunks = [trace[i::nthreads] for i in range(nthreads)]

    def worker(chunk):
        for k, s in chunk:
            f(k, s)
    ts = [threading.Thread(target=worker, args=(ch,)) for ch in chunks]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    if cache_kind == "rcache":
        s = stats.get_stats()
        hit = s["hits"] / max(1, s["hits"] + s["misses"])
    elif cache_kind == "od":
        hit = stats.hits / max(1, stats.hits + stats.misses)
    else:
        hit = 0.0
    return wall, hit, computed[0] / 1000.0


def bench_e2e(n_requests, mean_ms):
    traces = []
    for name, reader in (("cache2k/web07.trace.xz", read_be_int32_xz),
                         ("cache2k/orm-busy.trace.xz", read_be_int32_xz),
                         ("adapt_size/request.trace.xz", read_adaptsize)):
        p = os.path.join(TRACES, "caffeine", name)
        if os.path.exists(p):
            traces.append((name, reader(p, n_requests)))
    rows = []
    for name, trace in traces:
        for cfg_name, cfg in (("deployments (1000 items, 512 MiB)", (1000, 512)),
                              ("larger (10000 items, 4 GiB)", (10000, 4096))):
            for nthreads in (1, 8):
                base = replay(trace, "none", nthreads, cfg, mean_ms)
                od = replay(trace, "od", nthreads, cfg, mean_ms)
                rc = replay(trace, "rcache", nthreads, cfg, mean_ms)
                rows.append((name, cfg_name, nthreads, base, od, rc))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    ap.add_argument("--requests", type=int, default=None, help="requests per trace (end to end)")
    ap.add_argument("--mean-ms", type=float, default=1.0, help="mean compute cost per miss (ms)")
    a = ap.parse_args()
    n_keys = 100_000
    n_lookups = 50_000 if a.quick else 1_000_000
    n_req = a.requests or (2000 if a.quick else 20000)
    print(f"# rcache Python benchmarks ({'quick' if a.quick else 'full'}), "
          f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs\n")
    print(f"## 1. get hit, {n_keys} keys, Zipf(0.99), {n_lookups} lookups\n")
    print("| cache | ns/lookup |\n|---|---:|")
    for name, ns in bench_get(n_keys, n_lookups):
        print(f"| {name} | {ns:.0f} |")
    print(f"\n## 2. decorator hit (int, str), {n_keys} keys, Zipf(0.99)\n")
    print("| decorator | ns/call |\n|---|---:|")
    for name, ns in bench_decorator(n_keys, n_lookups):
        print(f"| {name} | {ns:.0f} |")
    print("\n## 3. rcache get throughput by threads\n")
    print("| threads | lookups/s |\n|---:|---:|")
    for n, ops in bench_threads(n_keys, n_lookups // 2):
        print(f"| {n} | {ops:,.0f} |")
    print("\n## 4. stampede: 100 concurrent first calls of a 0.2 s function\n")
    print("| cache | computations | wall s |\n|---|---:|---:|")
    for name, n, wall in bench_stampede():
        print(f"| {name} | {n} | {wall:.2f} |")
    print(f"\n## 5. end to end: {n_req} requests per trace, cost model mean {a.mean_ms} ms/miss\n")
    print("compute s = time the cost model charged for the calls that ran (deterministic given")
    print("the hit pattern); model speedup = compute s of no cache / of the cache; wall s is")
    print("measured (the cost is slept, so it is noisy on a loaded machine).\n")
    print("| trace | config | threads | hit ratio rcache / OD | compute s none / OD / rcache | "
          "model speedup vs none / vs OD | wall s none / OD / rcache |")
    print("|---|---|---:|---|---|---|---|")
    for name, cfg, nt, base, od, rc in bench_e2e(n_req, a.mean_ms):
        print(f"| {name} | {cfg} | {nt} | {rc[1]:.3f} / {od[1]:.3f} | "
              f"{base[2]:.1f} / {od[2]:.1f} / {rc[2]:.1f} | "
              f"{base[2] / rc[2]:.2f}x / {od[2] / rc[2]:.2f}x | "
              f"{base[0]:.1f} / {od[0]:.1f} / {rc[0]:.1f} |")


if __name__ == "__main__":
    main()
