"""@cached_result (async), @cached_result_sync, @cached.

Keys are built by the C extension from a namespace (by default
``module.QualifiedName``, plus ``/version`` when given) and the arguments
(see the package README for the encoding); ``self``/``cls`` are left out by
default.  Plain functions run through ``_rcache.Memo`` (single-flight in
librcache, waiting threads release the GIL).  Coroutine functions use the
asyncio single-flight below: one task computes, every other caller of the
same key -- in any task, event loop or thread -- awaits a future.
"""
from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import threading
import time
import weakref
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple, TypeVar

from . import _rcache
from ._cache import Cache, get_cache

F = TypeVar("F", bound=Callable[..., Any])
_MISS = object()
_RETRY = object()  # the computing task was cancelled: try again

# Keys this task (and the tasks it started) are computing: a→b→a detection.
_computing: contextvars.ContextVar[frozenset] = contextvars.ContextVar(
    "rcache_computing", default=frozenset())


class _Flight:
    __slots__ = ("waiters",)

    def __init__(self) -> None:
        self.waiters: List[Tuple[asyncio.AbstractEventLoop, asyncio.Future]] = []


_flights: Dict[Tuple[int, bytes], _Flight] = {}
_flights_lock = threading.Lock()


def _set_if_pending(fut: asyncio.Future, outcome: Any) -> None:
    if not fut.done():
        fut.set_result(outcome)


def _resolve(fkey: Tuple[int, bytes], fl: _Flight, outcome: Any) -> None:
    with _flights_lock:
        if _flights.get(fkey) is fl:
            del _flights[fkey]
        waiters, fl.waiters = fl.waiters, []
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    for loop, fut in waiters:
        if loop is running:
            _set_if_pending(fut, outcome)
        else:
            try:
                loop.call_soon_threadsafe(_set_if_pending, fut, outcome)
            except RuntimeError:  # that loop is closed: nobody waits there
                pass


def _namespace(fn: Callable, namespace: Optional[str], version: Any) -> str:
    if namespace is not None and not isinstance(namespace, str):
        raise TypeError("namespace must be a str or None")
    ns = namespace or f"{getattr(fn, '__module__', None) or '?'}.{getattr(fn, '__qualname__', None) or repr(fn)}"
    if version is not None:
        if not isinstance(version, (str, int)) or isinstance(version, bool):
            raise TypeError("version must be a str or an int")
        ns = f"{ns}/{version}"
    return ns


def _argnames(fn: Callable) -> Tuple[str, ...]:
    code = getattr(inspect.unwrap(fn), "__code__", None)
    if code is None:
        return ()
    return tuple(code.co_varnames[:code.co_argcount])


def _memo_stats(memo: Any) -> Dict[str, Any]:
    calls = memo.hits + memo.misses
    per = memo.compute_seconds / memo.computations if memo.computations else 0.0
    return {
        "namespace": memo.namespace,
        "hits": memo.hits,
        "misses": memo.misses,
        "hit_rate_percent": round(100.0 * memo.hits / calls, 2) if calls else 0.0,
        "computations": memo.computations,
        "singleflight_waits": memo.singleflight_waits,
        "errors": memo.errors,
        "timeouts": memo.timeouts,
        "reentrant_calls": memo.reentrant_calls,
        "compute_seconds": memo.compute_seconds,
        "mean_compute_seconds": per,
        # estimate: every hit and every wait spared one mean computation
        "compute_seconds_saved": per * (memo.hits + memo.singleflight_waits),
    }


def _tags_fn(tags: Any) -> Optional[Callable[..., Any]]:
    """tags= of the decorators as a callable of the call's arguments: a
    callable is used as is, a list/tuple of str/bytes is returned for every
    call, None means no tags."""
    if tags is None or callable(tags):
        return tags
    if not isinstance(tags, (list, tuple)) or not all(isinstance(t, (str, bytes)) for t in tags):
        raise TypeError("tags must be a list/tuple of str/bytes, a callable returning one, or None")
    fixed = tuple(tags)
    return lambda *args, **kwargs: fixed


def _make_memo(fn: Callable, cache_key_fn: Optional[Callable], ttl_seconds: Any, enabled: Any,
               cache: Optional[Cache], namespace: Optional[str], version: Any,
               timeout_seconds: Any, size_mb: Any, sizeof: Optional[Callable],
               error_ttl_seconds: Any, include_self: bool, tags: Any = None) -> Any:
    if not callable(fn):
        raise TypeError(f"cannot cache {fn!r}: not callable")
    if cache_key_fn is not None and not callable(cache_key_fn):
        raise TypeError("cache_key_fn must be a callable returning a str or bytes key, or None")
    if not isinstance(enabled, bool):
        raise TypeError("enabled must be a bool")
    if not isinstance(include_self, bool):
        raise TypeError("include_self must be a bool")
    if cache is not None and not isinstance(cache, _rcache.CacheBase):
        raise TypeError("cache must be an rcache.Cache or None")
    names = _argnames(fn)
    skip = 1 if (not include_self and names and names[0] in ("self", "cls")) else 0
    ns = _namespace(fn, namespace, version)
    tags_fn = _tags_fn(tags)
    memo = _rcache.Memo(fn, ns, cache=cache, resolver=None if cache is not None else get_cache,
                        key_fn=cache_key_fn, argnames=names, skip=skip,
                        ttl_seconds=ttl_seconds, timeout_seconds=timeout_seconds,
                        error_ttl_seconds=error_ttl_seconds, size_mb=size_mb, sizeof=sizeof,
                        enabled=enabled, tags_fn=tags_fn)
    memo._tags_fn = tags_fn
    return memo


def _copy_meta(dst: Any, fn: Callable) -> None:
    for a in ("__module__", "__name__", "__qualname__", "__doc__", "__annotations__"):
        try:
            setattr(dst, a, getattr(fn, a))
        except AttributeError:
            pass


# Every decorated function, for Cache.get_stats()["functions"] (weak: a
# function that goes away leaves the registry).
_registry: "weakref.WeakSet[Any]" = weakref.WeakSet()


def _register(memo: Any, wrapper: Any) -> None:
    wrapper.cache_stats = functools.partial(_memo_stats, memo)
    wrapper.cache_clear = memo.cache_clear
    _registry.add(wrapper)


def cached_result_sync(cache_key_fn: Optional[Callable[..., Any]] = None,
                       ttl_seconds: Optional[float] = None, enabled: bool = True, *,
                       cache: Optional[Cache] = None, namespace: Optional[str] = None,
                       version: Any = None, timeout_seconds: Optional[float] = None,
                       size_mb: Optional[float] = None,
                       sizeof: Optional[Callable[[Any], int]] = None,
                       error_ttl_seconds: Optional[float] = None,
                       include_self: bool = False, tags: Any = None) -> Callable[[F], F]:
    """Cache a plain function's results.

    cache_key_fn(*args, **kwargs) -> str|bytes: use this key as is instead
    of the automatic one (so ``invalidate_pattern("model:v3:*")`` can match
    it).  ttl_seconds: per-result TTL (None = the cache's default, 0 = no
    expiry).  enabled=False: call straight through.  cache: the Cache to use
    (default: get_cache(), resolved at the first call).  namespace/version:
    the key prefix (default ``module.QualName``; bump version to drop old
    results).  timeout_seconds: how long a caller waits for another
    thread's computation of the same key before CacheTimeoutError (default:
    forever).  size_mb / sizeof: the result's charge (default: estimate).
    error_ttl_seconds: cache exceptions for this long (default: never).
    include_self: key on ``self``/``cls`` too.  tags: the result's tags, for
    ``cache.invalidate_tag()``: a list of str/bytes, or a callable given the
    call's arguments that returns one (an exception from it fails the call).

    Concurrent calls with the same key run the function once; the other
    threads wait without holding the GIL and get the same result or the
    same exception.  Exceptions are not cached.  A call that needs its own
    result (recursion, a→b→a) raises ReentrantCallError.  Arguments that
    cannot be keyed raise TypeError naming the argument.
    """
    def deco(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):
            raise TypeError(f"{fn.__qualname__} is a coroutine function: use @cached_result")
        memo = _make_memo(fn, cache_key_fn, ttl_seconds, enabled, cache, namespace, version,
                          timeout_seconds, size_mb, sizeof, error_ttl_seconds, include_self,
                          tags)
        _copy_meta(memo, fn)
        _register(memo, memo)
        return memo  # type: ignore[return-value]
    return deco


async def _async_flight(memo: Any, key: bytes, fn: Callable[..., Awaitable[Any]],
                        args: tuple, kwargs: dict) -> Any:
    cache = memo._cache()
    fkey = (id(cache), key)
    memo.misses += 1
    while True:
        if fkey in _computing.get():
            memo.reentrant_calls += 1
            raise _rcache.ReentrantCallError(
                f"{memo.namespace} was called again with the same arguments while computing "
                "them (directly or through other cached functions); this would deadlock")
        with _flights_lock:
            fl = _flights.get(fkey)
            leader = fl is None
            if leader:
                fl = _flights[fkey] = _Flight()
            else:
                loop = asyncio.get_running_loop()
                fut = loop.create_future()
                fl.waiters.append((loop, fut))
        if not leader:
            timeout = memo_timeout(memo)
            try:
                if timeout is None:
                    outcome = await fut
                else:
                    outcome = await asyncio.wait_for(asyncio.shield(fut), timeout)
            except asyncio.TimeoutError:
                memo.timeouts += 1
                raise _rcache.CacheTimeoutError(
                    f"{memo.namespace}: waited more than {timeout:.3f} s for another caller's "
                    "computation of the same arguments (it goes on)") from None
            if outcome is _RETRY:
                continue
            memo.singleflight_waits += 1
            cache._async_dedup += 1
            failed, value = outcome
            if failed:
                raise value
            return value
        # A computation that finished between our miss and our claim.
        if key in cache:
            try:
                value = memo._lookup(key, _MISS)
            except BaseException as e:
                _resolve(fkey, fl, (True, e))
                raise
            if value is not _MISS:
                _resolve(fkey, fl, (False, value))
                return value
        token = _computing.set(_computing.get() | {fkey})
        t0 = time.perf_counter()
        try:
            value = await fn(*args, **kwargs)
        except asyncio.CancelledError:
            _resolve(fkey, fl, _RETRY)
            raise
        except BaseException as e:
            dt = time.perf_counter() - t0
            memo.computations += 1
            memo.compute_seconds += dt
            cache._async_computations += 1
            memo._store(key, e, dt, True)
            _resolve(fkey, fl, (True, e))
            raise
        finally:
            _computing.reset(token)
        dt = time.perf_counter() - t0
        memo.computations += 1
        memo.compute_seconds += dt
        cache._async_computations += 1
        try:
            tags = memo._tags_fn(*args, **kwargs) if memo._tags_fn else None
        except BaseException as e:  # failing tags fail the call, as in the sync path
            _resolve(fkey, fl, (True, e))
            raise
        try:
            memo._store(key, value, dt, False, tags)
        finally:
            _resolve(fkey, fl, (False, value))
        return value


def memo_timeout(memo: Any) -> Optional[float]:
    return getattr(memo, "_timeout", None)


def cached_result(cache_key_fn: Optional[Callable[..., Any]] = None,
                  ttl_seconds: Optional[float] = None, enabled: bool = True, *,
                  cache: Optional[Cache] = None, namespace: Optional[str] = None,
                  version: Any = None, timeout_seconds: Optional[float] = None,
                  size_mb: Optional[float] = None,
                  sizeof: Optional[Callable[[Any], int]] = None,
                  error_ttl_seconds: Optional[float] = None,
                  include_self: bool = False, tags: Any = None) -> Callable[[F], F]:
    """Cache an ``async def`` function's results (parameters as
    :func:`cached_result_sync`).

    Concurrent calls with the same key -- in one event loop, several loops
    or several threads -- await one computation (a future; the loop is
    never blocked).  If the computing task is cancelled, a waiting task
    takes over.  Exceptions reach every waiter and are not cached (unless
    error_ttl_seconds).  ``@cached_result`` without parentheses works too.
    """
    if inspect.iscoroutinefunction(cache_key_fn) and ttl_seconds is None:
        return cached_result()(cache_key_fn)  # bare @cached_result

    def deco(fn: F) -> F:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"{getattr(fn, '__qualname__', fn)!s} is not an async function: "
                            "use @cached_result_sync")
        memo = _make_memo(fn, cache_key_fn, ttl_seconds, enabled, cache, namespace, version,
                          timeout_seconds, size_mb, sizeof, error_ttl_seconds, include_self,
                          tags)
        memo._timeout = None if timeout_seconds is None else float(timeout_seconds)

        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not memo.enabled:
                return await fn(*args, **kwargs)
            key = memo._key(args, kwargs)
            value = memo._lookup(key, _MISS)
            if value is not _MISS:
                memo.hits += 1
                return value
            return await _async_flight(memo, key, fn, args, kwargs)

        wrapper.memo = memo  # type: ignore[attr-defined]
        _register(memo, wrapper)
        return wrapper  # type: ignore[return-value]
    return deco


def cached(fn: Optional[F] = None, **options: Any) -> Any:
    """``@cached`` or ``@cached(**options)``: @cached_result for ``async def``
    functions, @cached_result_sync for plain ones (same options)."""
    def deco(f: F) -> F:
        if inspect.iscoroutinefunction(f):
            return cached_result(**options)(f)
        return cached_result_sync(**options)(f)
    if fn is not None:
        if not callable(fn):
            raise TypeError("@cached takes keyword options only")
        return deco(fn)
    return deco
