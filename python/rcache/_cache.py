"""rcache.Cache and get_cache(): the cache object with the deployments' API.

Units are in the names: *_mb is MiB (2**20 bytes), *_seconds is seconds.
The hot calls (get, set, delete, ``in``, ``[]``) are the C methods of
``_rcache.CacheBase``; this module adds the friendlier administration API.
"""
from __future__ import annotations

import base64
import collections.abc
import math
import os
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Union

from . import _rcache

Key = Union[str, bytes]
_MIB = 1024 * 1024
_KEEP: Any = object()  # "parameter not given" for update_config()
_MAX_TTL_SECONDS = 3155760000  # 100 years, as rcached's admin API
_MAX_MEMORY_MB = 2 ** 40


def _check_int(name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{name} must be an int or None, not {type(v).__name__}")
    if v < 0 or v >= 2 ** 64:
        raise ValueError(f"{name} must be >= 0, got {v!r}")
    return v


def _check_num(name: str, v: Any, top: float) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"{name} must be a number or None, not {type(v).__name__}")
    f = float(v)
    if not math.isfinite(f) or f < 0 or f > top:
        raise ValueError(f"{name} must be between 0 and {top:g}, got {v!r}")
    return f


def _limits(max_size: Optional[int], max_memory_mb: Optional[float],
            default_ttl_seconds: Optional[float]) -> tuple:
    """Validate the three drop-in parameters; None or 0 = unbounded/no expiry."""
    items = 0 if max_size is None else _check_int("max_size", max_size)
    mb = 0.0 if max_memory_mb is None else _check_num("max_memory_mb", max_memory_mb,
                                                      _MAX_MEMORY_MB)
    ttl = 0.0 if default_ttl_seconds is None else _check_num(
        "default_ttl_seconds", default_ttl_seconds, _MAX_TTL_SECONDS)
    return items, int(math.ceil(mb * _MIB)), int(math.ceil(ttl * 1000))


def _key_text(key: bytes) -> tuple:
    """A key as rcached's admin API shows it: (text, "utf-8") or base64."""
    if b"\0" not in key:
        try:
            return key.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    return base64.b64encode(key).decode("ascii"), "base64"


class Cache(_rcache.CacheBase):
    """An in-process cache of Python objects, bounded by items and by bytes.

    ``Cache(max_size=1000, max_memory_mb=512, default_ttl_seconds=86400)``

    - max_size: most entries held (``None`` or 0 = unbounded).
    - max_memory_mb: most MiB held, counting each value's charge (its
      ``size_mb`` or the size estimate, see the README) plus the entry's own
      footprint (``None`` or 0 = unbounded).
    - default_ttl_seconds: TTL of entries stored without one (``None`` or 0
      = no expiry).
    - shards: lock stripes (0 = chosen from the CPU count; 1 = exact LRU).
    - disabled: every get misses and every set is dropped.
    - clock: an :class:`rcache.ManualClock` for tests (default: real time).
    - sizeof: callable giving a value's charge in bytes (default: estimate).
    - from_env: overlay ``CACHE_MAX_SIZE``, ``CACHE_MAX_MEMORY_MB``,
      ``CACHE_TTL_SECONDS``, ``DISABLE_RESULT_CACHE`` and librcache's
      ``RCACHE_*`` variables on the arguments (the environment wins).

    Values are stored by reference: ``get`` returns the very object given to
    ``set``.  Least-recently-used entries are evicted to honour the limits.
    Works as a mapping (``c[k]``, ``c[k] = v``, ``del c[k]``, ``k in c``,
    ``len(c)``, iteration over keys) and as a context manager that closes
    the cache.  Raises TypeError for wrong argument types and ValueError for
    out-of-range values; the cache is unchanged then.

    Thread-safety: every method may be called from any thread.
    """

    def __init__(self, max_size: Optional[int] = 1000, max_memory_mb: Optional[float] = 512,
                 default_ttl_seconds: Optional[float] = 86400, *, shards: int = 0,
                 disabled: bool = False, clock: Optional[_rcache.ManualClock] = None,
                 sizeof: Optional[Callable[[Any], int]] = None, from_env: bool = False) -> None:
        items, nbytes, ttl_ms = _limits(max_size, max_memory_mb, default_ttl_seconds)
        if not isinstance(disabled, bool):
            raise TypeError("disabled must be a bool")
        super().__init__(max_items=items, max_bytes=nbytes, default_ttl_ms=ttl_ms,
                         shards=_check_int("shards", shards), disabled=disabled,
                         clock=clock, sizeof=sizeof, from_env=from_env)
        self._started = time.monotonic()

    # -- statistics ------------------------------------------------------

    def get_stats(self) -> Dict[str, Any]:
        """Counters and gauges, as rcached's ``GET /api/cache/stats``.

        hits, misses, hit_rate_percent (2 decimals), evictions (=
        evictions_items + evictions_bytes), expirations, current_items,
        current_memory_mb (3 decimals), current_memory_bytes,
        peak_memory_bytes, max_items / max_memory_mb / max_memory_bytes
        (``None`` = unbounded), memory_utilization_percent, default_ttl_seconds
        (``None`` = no expiry), sets, deletes, uptime_seconds,
        compute_saved_seconds (compute time hits spared), computations,
        singleflight_dedup (callers served by another caller's computation),
        and: cache_enabled, compute_seconds_total, singleflight_timeouts,
        reentrant_calls, compute_errors, functions (per decorated function).
        """
        r = self._raw_stats()
        lookups = r["hits"] + r["misses"]
        mb = r["max_bytes"]
        return {
            "hits": r["hits"],
            "misses": r["misses"],
            "hit_rate_percent": round(100.0 * r["hits"] / lookups, 2) if lookups else 0.0,
            "evictions": r["evictions"],
            "current_items": r["items"],
            "current_memory_mb": round(r["bytes"] / _MIB, 3),
            "max_items": r["max_items"] or None,
            "max_memory_mb": (mb / _MIB) if mb else None,
            "memory_utilization_percent": round(100.0 * r["bytes"] / mb, 2) if mb else 0.0,
            "evictions_items": r["evictions_items"],
            "evictions_bytes": r["evictions_bytes"],
            "expirations": r["expirations"],
            "current_memory_bytes": r["bytes"],
            "peak_memory_bytes": r["peak_bytes"],
            "max_memory_bytes": mb or None,
            "default_ttl_seconds": (r["default_ttl_ms"] / 1000.0) if r["default_ttl_ms"] else None,
            "sets": r["sets"],
            "deletes": r["deletes"],
            "uptime_seconds": int(time.monotonic() - self._started),
            "compute_saved_seconds": r["compute_saved_ms"] / 1000.0,
            "computations": r["computations"],
            "singleflight_dedup": r["singleflight_dedup"],
            "cache_enabled": not r["disabled"],
            "compute_seconds_total": r["compute_ms_total"] / 1000.0,
            "singleflight_timeouts": r["singleflight_timeouts"],
            "reentrant_calls": r["reentrant_calls"],
            "compute_errors": r["compute_errors"],
            "functions": self._function_stats(),
        }

    # -- configuration ---------------------------------------------------

    def get_config(self) -> Dict[str, Any]:
        """Limits in force, as rcached's ``GET /api/cache/config``
        (max_size, max_memory_mb, max_memory_bytes, default_ttl_seconds,
        cache_enabled; ``None`` = unbounded / no expiry)."""
        r = self._raw_stats()
        return {
            "max_size": r["max_items"] or None,
            "max_memory_mb": (r["max_bytes"] / _MIB) if r["max_bytes"] else None,
            "max_memory_bytes": r["max_bytes"] or None,
            "default_ttl_seconds": (r["default_ttl_ms"] / 1000.0) if r["default_ttl_ms"] else None,
            "cache_enabled": not r["disabled"],
        }

    def update_config(self, max_size: Any = _KEEP, max_memory_mb: Any = _KEEP,
                      default_ttl_seconds: Any = _KEEP, cache_enabled: Any = _KEEP) -> Dict[str, Any]:
        """Change limits at run time; a parameter left out keeps its value.

        max_size (items), max_memory_mb (MiB), default_ttl_seconds (s; for
        later stores): ``None`` or 0 = unbounded / no expiry.  cache_enabled:
        bool.  Shrinking evicts least-recently-used entries at once.  Every
        parameter is checked before anything changes (TypeError /
        ValueError).  Returns get_config() plus ``evicted``.
        """
        cur = self._raw_stats()
        items = cur["max_items"] if max_size is _KEEP else _limits(max_size, None, None)[0]
        nbytes = cur["max_bytes"] if max_memory_mb is _KEEP else _limits(None, max_memory_mb, None)[1]
        ttl_ms = None if default_ttl_seconds is _KEEP else _limits(None, None, default_ttl_seconds)[2]
        if cache_enabled is not _KEEP and not isinstance(cache_enabled, bool):
            raise TypeError("cache_enabled must be a bool")
        evicted = self._set_limits(items, nbytes)
        if ttl_ms is not None:
            self._set_default_ttl(ttl_ms)
        if cache_enabled is not _KEEP:
            self._set_disabled(not cache_enabled)
        out = self.get_config()
        out["evicted"] = evicted
        return out

    # -- entries -----------------------------------------------------------

    def _entry_dict(self, t: tuple, now: float) -> Dict[str, Any]:
        key, vlen, size, created_ms, access_ms, count, ttl_ms, compute_ms, expired, is_obj = t
        text, enc = _key_text(key)
        created, accessed = created_ms / 1000.0, access_ms / 1000.0
        return {
            "key": text,
            "key_encoding": enc,
            "type": "object" if is_obj else "string",
            "size_bytes": size,
            "size_mb": size / _MIB,
            "value_bytes": vlen,
            "created_at": created,
            "timestamp": created,
            "age_seconds": max(0.0, now - created),
            "last_access_at": accessed,
            "idle_seconds": max(0.0, now - accessed),
            "access_count": count,
            "ttl_seconds": None if ttl_ms < 0 else ttl_ms / 1000.0,
            "expired": bool(expired),
            "compute_seconds": compute_ms / 1000.0,
        }

    def scan_entries(self, cursor: int = 0, count: int = 100,
                     match: Optional[Key] = None) -> tuple:
        """One page of a cursor scan (Redis SCAN rules): returns
        ``(next_cursor, [entry dict, ...])``; next_cursor 0 = done.  Expired
        entries not yet reclaimed are listed with ``expired`` True.
        ValueError for a malformed ``match`` glob or count < 1."""
        nxt, page = self._scan(cursor, count, match, True)
        now = self.now()
        return nxt, [self._entry_dict(t, now) for t in page]

    def get_entries(self, pattern: Optional[Key] = None, limit: Optional[int] = None) -> List[Dict[str, Any]]:
        """Metadata of every entry (or those matching a glob): key (text,
        or base64 when binary, see key_encoding), size_mb, size_bytes,
        timestamp / created_at (Unix seconds, 1 s resolution), age_seconds,
        access_count, expired, ttl_seconds, ... (as rcached's
        ``GET /api/cache/entries``).  Does not count hits or touch LRU order."""
        out: List[Dict[str, Any]] = []
        cursor = 0
        while True:
            cursor, page = self.scan_entries(cursor, 1000, pattern)
            out.extend(page)
            if cursor == 0 or (limit is not None and len(out) >= limit):
                break
        seen = set()
        uniq = []
        for e in out:  # a scan may return an entry twice
            if (e["key"], e["key_encoding"]) not in seen:
                seen.add((e["key"], e["key_encoding"]))
                uniq.append(e)
        return uniq[:limit] if limit is not None else uniq

    def entry_info(self, key: Key) -> Optional[Dict[str, Any]]:
        """Metadata of one key (None if absent or expired)."""
        t = self._entry_info(key)
        return None if t is None else self._entry_dict(t, self.now())

    def __iter__(self) -> Iterator[Key]:
        cursor = 0
        seen = set()
        while True:
            cursor, page = self._scan(cursor, 1000, None, False)
            for t in page:
                k = t[0]
                if k in seen:
                    continue
                seen.add(k)
                text, enc = _key_text(k)
                yield text if enc == "utf-8" else k
            if cursor == 0:
                return

    def keys(self) -> List[Key]:
        """The keys now held (str when valid UTF-8, else bytes)."""
        return list(self)

    def _function_stats(self) -> Dict[str, Any]:
        from ._decorators import _registry
        out = {}
        for w in list(_registry):
            memo = getattr(w, "memo", w)
            if memo._resolved_cache is self:
                out[memo.namespace] = w.cache_stats()
        return out

    def __repr__(self) -> str:
        if self.closed:
            return "<rcache.Cache closed>"
        c = self.get_config()
        return (f"<rcache.Cache items={len(self)} max_size={c['max_size']} "
                f"max_memory_mb={c['max_memory_mb']} default_ttl_seconds={c['default_ttl_seconds']}>")


collections.abc.MutableMapping.register(Cache)

_default: Optional[Cache] = None
_default_lock = threading.Lock()


def get_cache(max_size: Optional[int] = 1000, max_memory_mb: Optional[float] = 512,
              default_ttl_seconds: Optional[float] = 86400) -> Cache:
    """The process-wide cache, created on the first call and returned by
    every later call (later arguments are ignored: use update_config()).

    The environment overrides the arguments: CACHE_MAX_SIZE (items),
    CACHE_MAX_MEMORY_MB (MiB), CACHE_TTL_SECONDS (s), DISABLE_RESULT_CACHE
    (1/true/yes), and librcache's RCACHE_MAX_ITEMS, RCACHE_MAX_BYTES ("512mb"),
    RCACHE_DEFAULT_TTL_MS, RCACHE_SHARDS.  ValueError names a bad variable.
    Thread-safe.
    """
    global _default
    c = _default
    if c is not None:
        return c
    with _default_lock:
        if _default is None:
            _default = Cache(max_size, max_memory_mb, default_ttl_seconds, from_env=True)
        return _default


def _reset_default_cache() -> None:
    """Close and forget the process-wide cache (tests)."""
    global _default
    with _default_lock:
        if _default is not None:
            _default.close()
        _default = None
