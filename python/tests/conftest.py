import gc
import sys

import pytest

import rcache


@pytest.fixture
def clock():
    return rcache.ManualClock(1_700_000_000)


@pytest.fixture
def cache(clock):
    c = rcache.Cache(max_size=100, max_memory_mb=64, default_ttl_seconds=3600, shards=1,
                     clock=clock)
    yield c
    c.close()


@pytest.fixture(autouse=True)
def fresh_default_cache(monkeypatch):
    """Every test starts without the process-wide cache and with a clean
    environment for it."""
    for var in ("CACHE_MAX_SIZE", "CACHE_MAX_MEMORY_MB", "CACHE_TTL_SECONDS",
                "DISABLE_RESULT_CACHE", "RCACHE_MAX_ITEMS", "RCACHE_MAX_BYTES",
                "RCACHE_DEFAULT_TTL_MS", "RCACHE_SHARDS"):
        monkeypatch.delenv(var, raising=False)
    rcache._cache._reset_default_cache()
    yield
    rcache._cache._reset_default_cache()
    gc.collect()
