"""A reconstruction of the existing deployments' cache, for comparison
only: an OrderedDict LRU behind an RLock with the same item, memory and
TTL checks, and a @cached_result_sync-style decorator keyed on an MD5 of
repr(args).  No single-flight (that is the point of the comparison)."""
import functools
import hashlib
import sys
import threading
import time
from collections import OrderedDict


class DeploymentCache:
    def __init__(self, max_size=1000, max_memory_mb=512, default_ttl_seconds=86400):
        self.max_size = max_size
        self.max_memory_mb = max_memory_mb
        self.default_ttl = default_ttl_seconds
        self._data = OrderedDict()
        self._lock = threading.RLock()
        self._memory_mb = 0.0
        self.hits = self.misses = self.evictions = 0

    def get(self, key):
        with self._lock:
            item = self._data.get(key)
            if item is None:
                self.misses += 1
                return None
            value, size_mb, ts, ttl, count = item
            if ttl and time.time() - ts > ttl:
                del self._data[key]
                self._memory_mb -= size_mb
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self._data[key] = (value, size_mb, ts, ttl, count + 1)
            self.hits += 1
            return value

    def set(self, key, value, size_mb=None, ttl_seconds=None):
        if size_mb is None:
            size_mb = sys.getsizeof(value) / (1024 * 1024)
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._memory_mb -= old[1]
            while self._data and (len(self._data) >= self.max_size or
                                  self._memory_mb + size_mb > self.max_memory_mb):
                _, ev = self._data.popitem(last=False)
                self._memory_mb -= ev[1]
                self.evictions += 1
            self._data[key] = (value, size_mb, time.time(), ttl_seconds or self.default_ttl, 0)
            self._memory_mb += size_mb


def deployment_cached_sync(cache, ttl_seconds=None, size_fn=None):
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            key = f"{fn.__qualname__}:" + hashlib.md5(
                repr((args, sorted(kwargs.items()))).encode()).hexdigest()
            v = cache.get(key)
            if v is not None:
                return v
            v = fn(*args, **kwargs)
            cache.set(key, v, size_mb=size_fn(v) if size_fn else None, ttl_seconds=ttl_seconds)
            return v
        return wrapper
    return deco
