"""Django cache backend over rcache (Django 3.2+).

    CACHES = {
        "default": {
            "BACKEND": "rcache.django.RcacheCache",
            "LOCATION": "main",          # backends with one LOCATION share a cache
            "TIMEOUT": 300,              # seconds; None = forever
            "OPTIONS": {"MAX_ENTRIES": 1000, "MAX_MEMORY_MB": 512,
                        "PICKLE": True},
        }
    }

Timeouts follow Django: ``None`` = never expire, ``0`` (or negative) = do
not cache (set() removes the key).  Values are pickled by default
(``PICKLE: True``) so that callers get copies, as with every Django backend
(sessions mutate what they read); ``PICKLE: False`` stores by reference,
faster, for values nobody mutates.  ``CLOCK`` (an rcache.ManualClock) is
for tests.  Thread-safe; incr/decr are atomic within the process.
"""
from __future__ import annotations

import pickle
import threading
from typing import Any, Dict, Optional

from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache

from ._cache import Cache

_caches: Dict[str, Cache] = {}
_caches_lock = threading.Lock()
_MISS = object()


class RcacheCache(BaseCache):
    """Django ``BaseCache`` implementation storing in an rcache.Cache."""

    def __init__(self, location: str, params: Dict[str, Any]) -> None:
        super().__init__(params)
        opts = params.get("OPTIONS", {}) or {}
        self._pickle = bool(opts.get("PICKLE", True))
        self._lock = threading.Lock()
        name = location or "default"
        with _caches_lock:
            c = _caches.get(name)
            if c is None or c.closed:
                c = Cache(max_size=self._max_entries, max_memory_mb=opts.get("MAX_MEMORY_MB", 512),
                          default_ttl_seconds=None, clock=opts.get("CLOCK"))
                _caches[name] = c
        self._cache = c

    # -- helpers ---------------------------------------------------------

    def _ttl(self, timeout: Any) -> Optional[float]:
        """rcache ttl_seconds for a Django timeout: 0 = forever, None = don't store."""
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        if timeout is None:
            return 0
        if timeout <= 0:
            return None
        return float(timeout)

    def _key(self, key: Any, version: Optional[int]) -> str:
        k = self.make_key(key, version=version)
        self.validate_key(k)
        return k

    def _enc(self, value: Any) -> Any:
        return pickle.dumps(value, pickle.HIGHEST_PROTOCOL) if self._pickle else value

    def _dec(self, value: Any) -> Any:
        return pickle.loads(value) if self._pickle else value

    # -- BaseCache ---------------------------------------------------------

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT,
            version: Optional[int] = None) -> bool:
        k = self._key(key, version)
        ttl = self._ttl(timeout)
        if ttl is None:
            return k not in self._cache
        return self._cache.set(k, self._enc(value), ttl_seconds=ttl, nx=True)

    def get(self, key: Any, default: Any = None, version: Optional[int] = None) -> Any:
        v = self._cache.get(self._key(key, version), _MISS)
        return default if v is _MISS else self._dec(v)

    def get_many(self, keys: Any, version: Optional[int] = None) -> Dict[Any, Any]:
        """Values of the keys found, as a dict keyed by the keys given: one
        call into the cache, whose lookups overlap (Cache.get_many)."""
        made = {self._key(key, version): key for key in keys}
        found = self._cache.get_many(list(made))
        return {made[k]: self._dec(v) for k, v in found.items()}

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT,
            version: Optional[int] = None) -> None:
        k = self._key(key, version)
        ttl = self._ttl(timeout)
        if ttl is None:
            self._cache.delete(k)
        else:
            self._cache.set(k, self._enc(value), ttl_seconds=ttl)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Optional[int] = None) -> bool:
        ttl = self._ttl(timeout)
        return self._cache.touch(self._key(key, version), 0 if ttl is None else (ttl or None))

    def delete(self, key: Any, version: Optional[int] = None) -> bool:
        return self._cache.delete(self._key(key, version))

    def has_key(self, key: Any, version: Optional[int] = None) -> bool:
        return self._key(key, version) in self._cache

    def incr(self, key: Any, delta: int = 1, version: Optional[int] = None) -> Any:
        k = self._key(key, version)
        with self._lock:
            v = self._cache.get(k, _MISS)
            if v is _MISS:
                raise ValueError(f"Key '{key}' not found")
            new = self._dec(v) + delta
            try:
                left = self._cache.ttl(k)
            except KeyError:
                left = None
            self._cache.set(k, self._enc(new), ttl_seconds=0 if left is None else max(left, 0.001))
            return new

    def clear(self) -> None:
        self._cache.clear()

    def close(self, **kwargs: Any) -> None:
        """Django calls this after each request: the cache stays open."""
