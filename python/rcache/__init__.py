"""rcache: an in-process result cache over librcache.

Drop-in API of the existing deployments::

    from rcache import get_cache, cached_result, cached_result_sync
    cache = get_cache(max_size=1000, max_memory_mb=512, default_ttl_seconds=86400)
    cache.set("model:v3:abc", mesh, size_mb=120)
    cache.get("model:v3:abc")            # the very object stored
    cache.invalidate_pattern("model:v3:*")

    @cached_result(ttl_seconds=3600)      # async def
    async def generate(image_hash: str) -> Mesh: ...

Everything is documented in python/README.md; units are in the names
(_mb = MiB, _seconds = seconds).
"""
from ._rcache import (  # noqa: F401
    KEY_FORMAT_VERSION,
    CacheError,
    CacheTimeoutError,
    ManualClock,
    ReentrantCallError,
    encode_key,
    estimate_size,
    glob_match,
)
from ._cache import Cache, get_cache  # noqa: F401
from ._decorators import cached, cached_result, cached_result_sync  # noqa: F401

__version__ = "0.1.0"
__all__ = [
    "Cache", "get_cache", "cached", "cached_result", "cached_result_sync",
    "ManualClock", "CacheError", "CacheTimeoutError", "ReentrantCallError",
    "encode_key", "estimate_size", "glob_match",
]
